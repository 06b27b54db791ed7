// float64 CPU reference for causal grouped-query attention: the naive forward (full score rows) and its
// analytic backward. q [B, T, H, D]; k, v [B, kvSeq, KV, D]; out [B, T, H, D]; lse [B, H, T].
// Query row t sits at position posStart + t and sees keys j <= posStart + t; head h uses kv head ⌊h·KV/H⌋.

export interface AttnRefShape {
  batch: number;
  seq: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  kvSeq?: number;
  posStart?: number;
}

type Arr = ArrayLike<number>;

/** Softmax probabilities of row (b, h, t): P[j] for j <= posStart + t, and the row's log-sum-exp. */
function probs(s: AttnRefShape, q: Arr, k: Arr, b: number, h: number, t: number): { P: Float64Array; lse: number } {
  const { seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  const S = s.kvSeq ?? T;
  const last = (s.posStart ?? 0) + t;
  const kvh = Math.floor((h * KV) / H);
  const scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(last + 1);
  let max = -Infinity;
  for (let j = 0; j <= last; j++) {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[((b * T + t) * H + h) * D + d] * k[((b * S + j) * KV + kvh) * D + d];
    scores[j] = dot * scale;
    max = Math.max(max, scores[j]);
  }
  let sum = 0;
  for (let j = 0; j <= last; j++) sum += Math.exp(scores[j] - max);
  const P = scores.map((x) => Math.exp(x - max) / sum);
  return { P, lse: max + Math.log(sum) };
}

export function attentionForwardRef(s: AttnRefShape, q: Arr, k: Arr, v: Arr): { out: Float64Array; lse: Float64Array } {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  const S = s.kvSeq ?? T;
  const out = new Float64Array(B * T * H * D);
  const lse = new Float64Array(B * H * T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor((h * KV) / H);
      for (let t = 0; t < T; t++) {
        const r = probs(s, q, k, b, h, t);
        lse[(b * H + h) * T + t] = r.lse;
        for (let j = 0; j < r.P.length; j++)
          for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] += r.P[j] * v[((b * S + j) * KV + kvh) * D + d];
      }
    }
  return { out, lse };
}

/**
 * Gradients of L = Σ dout·out (kvSeq = seq, posStart = 0): with P the softmax row, dP_j = dout·v_j,
 * dS_j = P_j·(dP_j − Σ_i P_i·dP_i); dq = scale·Σ_j dS_j·k_j, dk_j += scale·dS_j·q, dv_j += P_j·dout.
 */
export function attentionBackwardRef(s: AttnRefShape, q: Arr, k: Arr, v: Arr, dout: Arr) {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  const scale = 1 / Math.sqrt(D);
  const dq = new Float64Array(B * T * H * D);
  const dk = new Float64Array(B * T * KV * D);
  const dv = new Float64Array(B * T * KV * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor((h * KV) / H);
      for (let t = 0; t < T; t++) {
        const { P } = probs(s, q, k, b, h, t);
        const qi = ((b * T + t) * H + h) * D;
        const dP = new Float64Array(P.length);
        let rowDot = 0;
        for (let j = 0; j < P.length; j++) {
          for (let d = 0; d < D; d++) dP[j] += dout[qi + d] * v[((b * T + j) * KV + kvh) * D + d];
          rowDot += P[j] * dP[j];
        }
        for (let j = 0; j < P.length; j++) {
          const ki = ((b * T + j) * KV + kvh) * D;
          const dS = P[j] * (dP[j] - rowDot);
          for (let d = 0; d < D; d++) {
            dq[qi + d] += scale * dS * k[ki + d];
            dk[ki + d] += scale * dS * q[qi + d];
            dv[ki + d] += P[j] * dout[qi + d];
          }
        }
      }
    }
  return { dq, dk, dv };
}
