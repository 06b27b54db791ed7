// float64 CPU reference of the whole causal LM (Llama/Qwen2 and GPT-2) with optional LoRA on any linear, written
// from the transformers modeling code independently of the GPU kernels. Tiny shapes only: every matmul is naive.
import type { ModelConfig } from '../../src/engine/model/config';

export type Weights = Map<string, Float64Array>; // by HF tensor name, row-major
export interface RefLora { A: Float64Array; B: Float64Array; r: number; scale: number }

// y[n, out] = x[n, in]·Wᵀ with W [out, in] (transposed=true) or W [in, out] (GPT-2 Conv1D)
function linear(x: Float64Array, n: number, inDim: number, outDim: number, W: Float64Array, transposed: boolean, bias?: Float64Array, lora?: RefLora) {
  const y = new Float64Array(n * outDim);
  for (let t = 0; t < n; t++)
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[t * inDim + i] * (transposed ? W[o * inDim + i] : W[i * outDim + o]);
      y[t * outDim + o] = s;
    }
  if (lora) {
    const { A, B, r, scale } = lora;
    for (let t = 0; t < n; t++) {
      const xa = new Float64Array(r);
      for (let k = 0; k < r; k++) for (let i = 0; i < inDim; i++) xa[k] += x[t * inDim + i] * A[k * inDim + i];
      for (let o = 0; o < outDim; o++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += xa[k] * B[o * r + k];
        y[t * outDim + o] += scale * s;
      }
    }
  }
  return y;
}

function rmsnorm(x: Float64Array, n: number, C: number, w: Float64Array, eps: number) {
  const y = new Float64Array(n * C);
  for (let t = 0; t < n; t++) {
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[t * C + i] ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) y[t * C + i] = w[i] * x[t * C + i] * r;
  }
  return y;
}

function layernorm(x: Float64Array, n: number, C: number, w: Float64Array, b: Float64Array, eps: number) {
  const y = new Float64Array(n * C);
  for (let t = 0; t < n; t++) {
    let m = 0;
    for (let i = 0; i < C; i++) m += x[t * C + i];
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) v += (x[t * C + i] - m) ** 2;
    const r = 1 / Math.sqrt(v / C + eps);
    for (let i = 0; i < C; i++) y[t * C + i] = (x[t * C + i] - m) * r * w[i] + b[i];
  }
  return y;
}

// rotate_half RoPE in place on x [B, T, heads, D]; angle(t, i) = t / θ^(2i/D)
function rope(x: Float64Array, B: number, T: number, heads: number, D: number, theta: number) {
  const half = D / 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < heads; h++) {
        const o = ((b * T + t) * heads + h) * D;
        for (let i = 0; i < half; i++) {
          const a = t / theta ** ((2 * i) / D);
          const x1 = x[o + i], x2 = x[o + i + half];
          x[o + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
          x[o + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
}

// causal attention; head h reads kv head floor(h·KV/H) (= transformers' repeat_kv)
function attention(q: Float64Array, k: Float64Array, v: Float64Array, B: number, T: number, H: number, KV: number, D: number) {
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor((h * KV) / H);
      for (let t = 0; t < T; t++) {
        const sc = new Float64Array(t + 1);
        let mx = -Infinity;
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[((b * T + t) * H + h) * D + d] * k[((b * T + j) * KV + g) * D + d];
          sc[j] = s / Math.sqrt(D);
          mx = Math.max(mx, sc[j]);
        }
        let z = 0;
        for (let j = 0; j <= t; j++) z += (sc[j] = Math.exp(sc[j] - mx));
        for (let j = 0; j <= t; j++)
          for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] += (sc[j] / z) * v[((b * T + j) * KV + g) * D + d];
      }
    }
  return out;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const geluNew = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const add = (a: Float64Array, b: Float64Array) => a.map((x, i) => x + b[i]);

/** Logits [B·T, V] of the reference model. */
export function referenceLogits(cfg: ModelConfig, w: Weights, ids: ArrayLike<number>, B: number, T: number, lora: Map<string, RefLora> = new Map()): Float64Array {
  const { hidden: C, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocabSize: V, normEps: eps } = cfg;
  const N = B * T;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: no ${n}`);
    return t;
  };
  const gpt2 = cfg.arch === 'gpt2';
  const E = get(gpt2 ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
  let x = new Float64Array(N * C);
  for (let t = 0; t < N; t++)
    for (let i = 0; i < C; i++) x[t * C + i] = E[ids[t] * C + i] + (gpt2 ? get('transformer.wpe.weight')[(t % T) * C + i] : 0);
  const lin = (name: string, inp: Float64Array, inDim: number, outDim: number) =>
    linear(inp, N, inDim, outDim, get(`${name}.weight`), !gpt2, w.get(`${name}.bias`), lora.get(name));
  for (let l = 0; l < cfg.layers; l++) {
    if (gpt2) {
      const p = `transformer.h.${l}`;
      const h1 = layernorm(x, N, C, get(`${p}.ln_1.weight`), get(`${p}.ln_1.bias`), eps);
      const qkv = lin(`${p}.attn.c_attn`, h1, C, 3 * C);
      const q = new Float64Array(N * C), k = new Float64Array(N * C), v = new Float64Array(N * C);
      for (let t = 0; t < N; t++)
        for (let i = 0; i < C; i++) {
          q[t * C + i] = qkv[t * 3 * C + i];
          k[t * C + i] = qkv[t * 3 * C + C + i];
          v[t * C + i] = qkv[t * 3 * C + 2 * C + i];
        }
      x = add(x, lin(`${p}.attn.c_proj`, attention(q, k, v, B, T, H, H, D), C, C));
      const h2 = layernorm(x, N, C, get(`${p}.ln_2.weight`), get(`${p}.ln_2.bias`), eps);
      x = add(x, lin(`${p}.mlp.c_proj`, lin(`${p}.mlp.c_fc`, h2, C, I).map(geluNew), I, C));
    } else {
      const p = `model.layers.${l}`;
      const h1 = rmsnorm(x, N, C, get(`${p}.input_layernorm.weight`), eps);
      const q = lin(`${p}.self_attn.q_proj`, h1, C, H * D);
      const k = lin(`${p}.self_attn.k_proj`, h1, C, KV * D);
      const v = lin(`${p}.self_attn.v_proj`, h1, C, KV * D);
      rope(q, B, T, H, D, cfg.ropeTheta);
      rope(k, B, T, KV, D, cfg.ropeTheta);
      x = add(x, lin(`${p}.self_attn.o_proj`, attention(q, k, v, B, T, H, KV, D), H * D, C));
      const h2 = rmsnorm(x, N, C, get(`${p}.post_attention_layernorm.weight`), eps);
      const g = lin(`${p}.mlp.gate_proj`, h2, C, I), u = lin(`${p}.mlp.up_proj`, h2, C, I);
      x = add(x, lin(`${p}.mlp.down_proj`, g.map((a, i) => silu(a) * u[i]), I, C));
    }
  }
  const hf = gpt2 ? layernorm(x, N, C, get('transformer.ln_f.weight'), get('transformer.ln_f.bias'), eps) : rmsnorm(x, N, C, get('model.norm.weight'), eps);
  const head = cfg.tieEmbeddings ? E : get('lm_head.weight');
  return linear(hf, N, C, V, head, true);
}

/** Σ over labelled rows of CE(logits[t], labels[t]) · scale (labels already shifted; -100 ignored). */
export function referenceLoss(logits: Float64Array, labels: ArrayLike<number>, V: number, scale: number): number {
  let loss = 0;
  for (let t = 0; t < labels.length; t++) {
    if (labels[t] < 0) continue;
    let mx = -Infinity;
    for (let i = 0; i < V; i++) mx = Math.max(mx, logits[t * V + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[t * V + i] - mx);
    loss += (Math.log(z) + mx - logits[t * V + labels[t]]) * scale;
  }
  return loss;
}
