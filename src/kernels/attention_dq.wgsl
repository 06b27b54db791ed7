// Attention backward, dq pass (flash-attention-2, query side). Shapes as the forward, kvSeq = seq, posStart = 0:
//   q, dout, dq [B, seq, H, D]; k, v [B, seq, KV, D]; lse, rowDot [B, H, seq]
//   P_tj = exp(scale·q_t·k_j − lse_t) (j <= t), dP_tj = dout_t·v_j, dS_tj = P_tj·(dP_tj − rowDot_t),
//   dq_t = scale · Σ_j dS_tj · k_j
// One workgroup = BQ query rows of one (batch, head), walking the visible keys in tiles of BK; P and dS are
// recomputed per tile and never stored beyond it. Thread layout as the forward: 4 rows × (KPT keys, NC columns).

const HEAD_DIM = 64u;
const BQ = 32u;
const BK = 32u;
const WG = 128u;

const RG = BQ / 4u;
const CG = WG / RG;
const KPT = BK / CG;
const NC = (HEAD_DIM + CG - 1u) / CG;
const KS = HEAD_DIM | 1u; // odd stride: conflict-free reads of rows cg + c·CG

struct Params { seq: u32, heads: u32, kvHeads: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> rowDot: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;

var<workgroup> qT: array<vec4<f32>, HEAD_DIM * RG>;  // [D][BQ] scaled q, transposed
var<workgroup> doT: array<vec4<f32>, HEAD_DIM * RG>; // [D][BQ] dout, transposed
var<workgroup> kv: array<f32, BK * KS>;              // [BK][KS] the V tile, then the K tile
var<workgroup> dsT: array<vec4<f32>, BK * RG>;       // [BK][BQ] dS, transposed

// kv = rows j0..j0+BK of k (or of v when fromV), zero past seq
fn loadTile(fromV: bool, base: u32, stride: u32, j0: u32, tid: u32) {
  for (var n = 0u; n < (BK * HEAD_DIM + WG - 1u) / WG; n++) {
    let i = min(tid + n * WG, BK * HEAD_DIM - 1u); // past the end: redo the last element
    let kk = i / HEAD_DIM;
    let d = i % HEAD_DIM;
    let at = base + min(j0 + kk, p.seq - 1u) * stride + d; // clamped: unconditional loads
    var x: f32;
    if (fromV) { x = v[at]; } else { x = k[at]; }
    kv[kk * KS + d] = select(0.0, x, j0 + kk < p.seq);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let b = wg.z;
  let h = wg.y;
  let t0 = (nwg.x - 1u - wg.x) * BQ; // causal: the longest (last) query tiles start first
  let kvh = h * p.kvHeads / p.heads;
  let rg = tid / CG;
  let cg = tid % CG;
  let qStride = p.heads * HEAD_DIM;
  let kStride = p.kvHeads * HEAD_DIM;
  let qBase = b * p.seq * qStride + h * HEAD_DIM;
  let kBase = b * p.seq * kStride + kvh * HEAD_DIM;
  let statBase = (b * p.heads + h) * p.seq;

  for (var n = 0u; n < (BQ * HEAD_DIM + WG - 1u) / WG; n++) {
    let i = min(tid + n * WG, BQ * HEAD_DIM - 1u); // past the end: redo the last element
    let r = i / HEAD_DIM;
    let d = i % HEAD_DIM;
    let at = qBase + min(t0 + r, p.seq - 1u) * qStride + d;
    let inside = t0 + r < p.seq;
    qT[d * RG + r / 4u][r % 4u] = select(0.0, q[at] * p.scale, inside);
    doT[d * RG + r / 4u][r % 4u] = select(0.0, dout[at], inside);
  }
  var rowLse = vec4<f32>(0.0);
  var rowD = vec4<f32>(0.0);
  for (var r = 0u; r < 4u; r++) {
    let t = t0 + rg * 4u + r;
    if (t < p.seq) { rowLse[r] = lse[statBase + t]; rowD[r] = rowDot[statBase + t]; }
  }
  let rowPos = vec4<u32>(t0 + rg * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
  let keyEnd = min(t0 + BQ, p.seq); // causal: the last row sees keys < keyEnd

  var acc: array<vec4<f32>, NC>; // acc[i][r] = dq[row 4rg+r][col cg + i·CG] / scale
  for (var j0 = 0u; j0 < keyEnd; j0 += BK) {
    loadTile(true, kBase, kStride, j0, tid);
    workgroupBarrier();
    var dp: array<vec4<f32>, KPT>;
    for (var c = 0u; c < KPT; c++) { dp[c] = vec4<f32>(0.0); } // explicit: SwiftShader keeps the last iteration's values // dP[rows][key cg + c·CG]
    for (var d = 0u; d < HEAD_DIM; d++) {
      let g = doT[d * RG + rg];
      for (var c = 0u; c < KPT; c++) { dp[c] += g * kv[(cg + c * CG) * KS + d]; }
    }
    workgroupBarrier();

    loadTile(false, kBase, kStride, j0, tid);
    workgroupBarrier();
    var s: array<vec4<f32>, KPT>;
    for (var c = 0u; c < KPT; c++) { s[c] = vec4<f32>(0.0); } // explicit: SwiftShader keeps the last iteration's values
    for (var d = 0u; d < HEAD_DIM; d++) {
      let qv = qT[d * RG + rg];
      for (var c = 0u; c < KPT; c++) { s[c] += qv * kv[(cg + c * CG) * KS + d]; }
    }
    for (var c = 0u; c < KPT; c++) {
      let key = cg + c * CG;
      let visible = vec4<u32>(j0 + key) <= rowPos; // rows past seq are never stored
      let pr = select(vec4<f32>(0.0), exp(s[c] - rowLse), visible);
      dsT[key * RG + rg] = pr * (dp[c] - rowD);
    }
    workgroupBarrier();

    for (var kk = 0u; kk < BK; kk++) {
      let ds = dsT[kk * RG + rg];
      for (var i = 0u; i < NC; i++) {
        let col = min(cg + i * CG, HEAD_DIM - 1u);
        acc[i] += ds * kv[kk * KS + col];
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < 4u; r++) {
    let t = t0 + rg * 4u + r;
    if (t >= p.seq) { break; }
    for (var i = 0u; i < NC; i++) {
      let col = cg + i * CG;
      if (col < HEAD_DIM) { dq[qBase + t * qStride + col] = acc[i][r] * p.scale; }
    }
  }
}
