// Attention backward, dk/dv pass (flash-attention-2, key side). Shapes as attention_dq.wgsl:
//   dv_j = Σ_h Σ_t P_tj · dout_t        dk_j = scale · Σ_h Σ_t dS_tj · q_t
// summed over every query head h of the kv head's group and every query t >= j.
// One workgroup = BK keys of one (batch, kv head): their k and v stay in workgroup memory while it walks
// the group's heads and, per head, the query tiles (BQ rows) at or after the key tile. Each workgroup owns
// its dk/dv rows outright: no atomics, a fixed summation order, deterministic results.
// Head split (few kv heads, short batch: too few workgroups to fill the GPU): workgroup z = b·splits + split
// walks only heads [split·headsPerSplit, +headsPerSplit) of the group and writes slot `split` of scratch
// buffers [splits][B, seq, KV, D]; attention_sum.wgsl adds the slots in order. splits = 1 otherwise.
// Thread = (kg, cg): 4 keys 4kg..4kg+3 (one vec4 per column) ×
//   scores: queries cg + c·CG (c < QPT)      accumulators: columns cg + i·CG (i < NC)

const HEAD_DIM = 64u;
const BQ = 32u;  // query rows per inner tile (multiple of CG)
const BK = 32u;  // keys per workgroup (multiple of 4)
const WG = 128u;

const KG = BK / 4u;
const CG = WG / KG;
const QPT = BQ / CG;
const NC = (HEAD_DIM + CG - 1u) / CG;
const KS = HEAD_DIM | 1u; // odd stride: conflict-free reads of rows cg + c·CG

struct Params { seq: u32, heads: u32, kvHeads: u32, headsPerSplit: u32, splits: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> rowDot: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;

var<workgroup> kT: array<vec4<f32>, HEAD_DIM * KG>; // [D][BK] scaled keys, transposed: keys 4kg.. at [d·KG + kg]
var<workgroup> vT: array<vec4<f32>, HEAD_DIM * KG>; // [D][BK] values, transposed
var<workgroup> qs: array<f32, BQ * KS>;             // [BQ][KS] query tile
var<workgroup> dos: array<f32, BQ * KS>;            // [BQ][KS] dout tile
var<workgroup> pS: array<vec4<f32>, BQ * KG>;       // [BQ][BK] P of the tile
var<workgroup> dsS: array<vec4<f32>, BQ * KG>;      // [BQ][BK] dS of the tile
var<workgroup> rowLse: array<f32, BQ>;
var<workgroup> rowD: array<f32, BQ>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let b = wg.z / p.splits;
  let split = wg.z % p.splits;
  let slot = split * (nwg.z / p.splits) * p.seq * p.kvHeads * HEAD_DIM; // 0 unless split
  let kvh = wg.y;
  let j0 = wg.x * BK;
  let kg = tid / CG;
  let cg = tid % CG;
  let qStride = p.heads * HEAD_DIM;
  let kStride = p.kvHeads * HEAD_DIM;
  let kBase = b * p.seq * kStride + kvh * HEAD_DIM;

  for (var n = 0u; n < (BK * HEAD_DIM + WG - 1u) / WG; n++) {
    let i = min(tid + n * WG, BK * HEAD_DIM - 1u); // past the end: redo the last element
    let kk = i / HEAD_DIM;
    let d = i % HEAD_DIM;
    let at = kBase + min(j0 + kk, p.seq - 1u) * kStride + d; // clamped: unconditional loads
    let inside = j0 + kk < p.seq;
    kT[d * KG + kk / 4u][kk % 4u] = select(0.0, k[at] * p.scale, inside);
    vT[d * KG + kk / 4u][kk % 4u] = select(0.0, v[at], inside);
  }
  let keyPos = vec4<u32>(j0 + kg * 4u) + vec4<u32>(0u, 1u, 2u, 3u);

  var dkAcc: array<vec4<f32>, NC>; // dkAcc[i][e] = dk[key 4kg+e][col cg + i·CG] / scale
  var dvAcc: array<vec4<f32>, NC>;
  // heads h with floor(h·KV/H) = kvh, this split's share of them
  let hGroup = (kvh * p.heads + p.kvHeads - 1u) / p.kvHeads;
  let hBegin = hGroup + split * p.headsPerSplit;
  let hEnd = min(((kvh + 1u) * p.heads + p.kvHeads - 1u) / p.kvHeads, hBegin + p.headsPerSplit);
  for (var h = hBegin; h < hEnd; h++) {
    let qBase = b * p.seq * qStride + h * HEAD_DIM;
    let statBase = (b * p.heads + h) * p.seq;
    // causal: queries before j0 see none of these keys
    for (var q0 = (j0 / BQ) * BQ; q0 < p.seq; q0 += BQ) {
      for (var n = 0u; n < (BQ * HEAD_DIM + WG - 1u) / WG; n++) {
        let i = min(tid + n * WG, BQ * HEAD_DIM - 1u); // past the end: redo the last element
        let r = i / HEAD_DIM;
        let d = i % HEAD_DIM;
        let at = qBase + min(q0 + r, p.seq - 1u) * qStride + d;
        let inside = q0 + r < p.seq;
        qs[r * KS + d] = select(0.0, q[at], inside);
        dos[r * KS + d] = select(0.0, dout[at], inside);
      }
      if (tid < BQ) {
        var l = 0.0;
        var dd = 0.0;
        if (q0 + tid < p.seq) { l = lse[statBase + q0 + tid]; dd = rowDot[statBase + q0 + tid]; }
        rowLse[tid] = l;
        rowD[tid] = dd;
      }
      workgroupBarrier();

      for (var c = 0u; c < QPT; c++) {
        let r = cg + c * CG;
        var s = vec4<f32>(0.0);  // scale·k[keys]·q[r]
        var dp = vec4<f32>(0.0); // v[keys]·dout[r]
        for (var d = 0u; d < HEAD_DIM; d++) {
          s += kT[d * KG + kg] * qs[r * KS + d];
          dp += vT[d * KG + kg] * dos[r * KS + d];
        }
        let t = q0 + r;
        let visible = (keyPos <= vec4<u32>(t)) & vec4<bool>(t < p.seq);
        let pr = select(vec4<f32>(0.0), exp(s - rowLse[r]), visible);
        pS[r * KG + kg] = pr;
        dsS[r * KG + kg] = pr * (dp - rowD[r]);
      }
      workgroupBarrier();

      for (var r = 0u; r < BQ; r++) {
        let pr = pS[r * KG + kg];
        let ds = dsS[r * KG + kg];
        for (var i = 0u; i < NC; i++) {
          let col = min(cg + i * CG, HEAD_DIM - 1u);
          dvAcc[i] += pr * dos[r * KS + col];
          dkAcc[i] += ds * qs[r * KS + col];
        }
      }
      workgroupBarrier();
    }
  }

  for (var e = 0u; e < 4u; e++) {
    let j = j0 + kg * 4u + e;
    if (j >= p.seq) { break; }
    for (var i = 0u; i < NC; i++) {
      let col = cg + i * CG;
      if (col < HEAD_DIM) {
        dk[slot + kBase + j * kStride + col] = dkAcc[i][e] * p.scale;
        dv[slot + kBase + j * kStride + col] = dvAcc[i][e];
      }
    }
  }
}
