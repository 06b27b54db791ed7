// Causal grouped-query attention, forward, flash style (one pass, online softmax).
//   q [B, seq, H, D]; k, v [B, kvSeq, KV, D]; out [B, seq, H, D]; lse [B, H, seq]
//   query row t sits at absolute position posStart + t and sees keys j <= posStart + t (j < kvSeq);
//   head h reads kv head floor(h·KV/H); scores are scale·q·k with scale = 1/sqrt(D).
// One workgroup = BQ query rows of one (batch, GQA group). The rows of a group are its (t, head) pairs,
// row R = t·G + (h − first head), G = heads per kv head (1 when H is not a multiple of KV): the K/V tiles
// are loaded once for all G heads, and a decode step (seq 1) fills the rows with heads instead of padding.
// The workgroup walks the visible keys in tiles of BK, keeping
// for each row a running max m, and per thread a partial sum l and the output accumulator, rescaled by
// exp(m_old − m_new) whenever the max grows. Nothing of size [seq, seq] ever exists.
// Split mode (decode: few query rows, a long cache): workgroup z = b·splits + split covers only keys
// [split·chunk, (split+1)·chunk) and writes that chunk's normalised out and lse to slot `split` of scratch
// buffers [splits][...]; attention_combine.wgsl merges the slots. splits = 1, chunk >= kvSeq otherwise.
// Thread layout: thread = (rg, cg); it owns 4 query rows 4rg..4rg+3 (one vec4 per column) and
//   scores:  keys cg + c·CG  (c < KPT)        outputs: columns cg + i·CG  (i < NC)
// so the same thread holds the scores and the outputs of the same rows: the softmax rescale is local.
// The constants below are rewritten per head dim and tile choice by attention.ts (specialize()).

const HEAD_DIM = 64u;
const BQ = 32u;  // query rows per workgroup (multiple of 4)
const BK = 32u;  // keys per tile (multiple of CG)
const WG = 128u; // threads per workgroup

const RG = BQ / 4u;                    // row groups
const CG = WG / RG;                    // column groups
const KPT = BK / CG;                   // keys per thread
const NC = (HEAD_DIM + CG - 1u) / CG;  // output columns per thread
const KS = HEAD_DIM | 1u;              // odd row stride of the K/V tile: threads reading rows cg hit distinct banks
const MASKED = -1e30;                  // score of an invisible key (WGSL has no guaranteed infinity)

struct Params { seq: u32, kvSeq: u32, posStart: u32, heads: u32, kvHeads: u32, chunk: u32, splits: u32, group: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

var<workgroup> qT: array<vec4<f32>, HEAD_DIM * RG>; // [D][BQ] scaled queries, transposed: rows 4rg..4rg+3 at [d·RG + rg]
var<workgroup> kv: array<f32, BK * KS>;              // [BK][KS] the K tile, then the V tile
var<workgroup> pT: array<vec4<f32>, BK * RG>;        // [BK][BQ] probabilities, transposed like qT
var<workgroup> red: array<f32, BQ * CG>;             // [BQ][CG] per-thread partial row max / row sum
var<workgroup> rowMax: array<vec4<f32>, RG>;         // [BQ] running max of each row
var<workgroup> rowScale: array<vec4<f32>, RG>;       // [BQ] exp(old max − new max) of the current tile

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let b = wg.z / p.splits;
  let split = wg.z % p.splits;
  let batch = nwg.z / p.splits;
  let G = p.group;
  let rows = p.seq * G;
  let R0 = (nwg.x - 1u - wg.x) * BQ; // causal: the longest (last) query tiles start first
  let hFirst = wg.y * G;
  let kvh = hFirst * p.kvHeads / p.heads;
  let rg = tid / CG;
  let cg = tid % CG;
  let qStride = p.heads * HEAD_DIM;   // floats between consecutive tokens of q / out
  let kStride = p.kvHeads * HEAD_DIM; // ... of k / v
  let qBase = b * p.seq * qStride; // + t·qStride + h·D
  let kBase = b * p.kvSeq * kStride + kvh * HEAD_DIM;

  for (var n = 0u; n < (BQ * HEAD_DIM + WG - 1u) / WG; n++) {
    let i = min(tid + n * WG, BQ * HEAD_DIM - 1u); // past the end: redo the last element
    let r = i / HEAD_DIM;
    let d = i % HEAD_DIM;
    let R = min(R0 + r, rows - 1u);
    let x = q[qBase + (R / G) * qStride + (hFirst + R % G) * HEAD_DIM + d] * p.scale;
    qT[d * RG + r / 4u][r % 4u] = select(0.0, x, R0 + r < rows);
  }
  if (tid < BQ) { rowMax[tid / 4u][tid % 4u] = MASKED; }

  var acc: array<vec4<f32>, NC>; // acc[i][r] = unnormalised out[row 4rg+r][col cg + i·CG]
  var lsum = vec4<f32>(0.0);     // this thread's share of the row sums
  let lastT = (min(R0 + BQ, rows) - 1u) / G;
  let keyBegin = split * p.chunk;
  let keyEnd = min(min(p.kvSeq, p.posStart + lastT + 1u), keyBegin + p.chunk); // no row of the tile sees a key past this
  let rowPos = vec4<u32>(p.posStart) + (vec4<u32>(R0 + rg * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) / vec4<u32>(G);

  for (var j0 = keyBegin; j0 < keyEnd; j0 += BK) {
    // Loads are unconditional (row index clamped) so they issue back to back; rows past keyEnd are then
    // replaced by 0, so an unwritten KV-cache row (even NaN) never reaches a result.
    for (var n = 0u; n < (BK * HEAD_DIM + WG - 1u) / WG; n++) {
      let i = min(tid + n * WG, BK * HEAD_DIM - 1u); // past the end: redo the last element
      let kk = i / HEAD_DIM;
      let d = i % HEAD_DIM;
      let x = k[kBase + min(j0 + kk, keyEnd - 1u) * kStride + d];
      kv[kk * KS + d] = select(0.0, x, j0 + kk < keyEnd);
    }
    workgroupBarrier();

    // s[c][r] = scale · q[row 4rg+r] · k[key j0 + cg + c·CG]
    var s: array<vec4<f32>, KPT>;
    for (var c = 0u; c < KPT; c++) { s[c] = vec4<f32>(0.0); } // explicit: SwiftShader keeps the last iteration's values
    for (var d = 0u; d < HEAD_DIM; d++) {
      let qv = qT[d * RG + rg];
      for (var c = 0u; c < KPT; c++) { s[c] += qv * kv[(cg + c * CG) * KS + d]; }
    }
    var tileMax = vec4<f32>(MASKED);
    for (var c = 0u; c < KPT; c++) {
      let j = j0 + cg + c * CG;
      let visible = (vec4<u32>(j) <= rowPos) & vec4<bool>(j < p.kvSeq);
      s[c] = select(vec4<f32>(MASKED), s[c], visible);
      tileMax = max(tileMax, s[c]);
    }
    for (var r = 0u; r < 4u; r++) { red[(rg * 4u + r) * CG + cg] = tileMax[r]; }
    workgroupBarrier();

    // K is consumed: bring in V. One thread per row folds the partial maxima into the running max.
    for (var n = 0u; n < (BK * HEAD_DIM + WG - 1u) / WG; n++) {
      let i = min(tid + n * WG, BK * HEAD_DIM - 1u); // past the end: redo the last element
      let kk = i / HEAD_DIM;
      let d = i % HEAD_DIM;
      let x = v[kBase + min(j0 + kk, keyEnd - 1u) * kStride + d];
      kv[kk * KS + d] = select(0.0, x, j0 + kk < keyEnd);
    }
    if (tid < BQ) {
      let mOld = rowMax[tid / 4u][tid % 4u];
      var mNew = mOld;
      for (var c = 0u; c < CG; c++) { mNew = max(mNew, red[tid * CG + c]); }
      rowMax[tid / 4u][tid % 4u] = mNew;
      rowScale[tid / 4u][tid % 4u] = exp(mOld - mNew);
    }
    workgroupBarrier();

    let mNew = rowMax[rg];
    let alpha = rowScale[rg];
    lsum *= alpha;
    for (var i = 0u; i < NC; i++) { acc[i] *= alpha; }
    for (var c = 0u; c < KPT; c++) {
      // masked keys give exactly 0 (also while a row has seen no key of its chunk and mNew is MASKED)
      let pr = select(vec4<f32>(0.0), exp(s[c] - mNew), s[c] > vec4<f32>(0.5 * MASKED));
      lsum += pr;
      pT[(cg + c * CG) * RG + rg] = pr;
    }
    workgroupBarrier();

    // acc[rows][cols] += P[rows][keys] · V[keys][cols]
    for (var kk = 0u; kk < BK; kk++) {
      let pr = pT[kk * RG + rg];
      for (var i = 0u; i < NC; i++) {
        let col = min(cg + i * CG, HEAD_DIM - 1u); // columns past D are computed, never stored
        acc[i] += pr * kv[kk * KS + col];
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < 4u; r++) { red[(rg * 4u + r) * CG + cg] = lsum[r]; }
  workgroupBarrier();
  var l = vec4<f32>(0.0);
  for (var c = 0u; c < CG; c++) {
    for (var r = 0u; r < 4u; r++) { l[r] += red[(rg * 4u + r) * CG + c]; }
  }
  let m = rowMax[rg];
  let outSlot = split * batch * p.seq * qStride;  // 0 unless split
  let lseSlot = split * batch * p.heads * p.seq;
  for (var r = 0u; r < 4u; r++) {
    let R = R0 + rg * 4u + r;
    if (R >= rows) { break; }
    let t = R / G;
    let h = hFirst + R % G;
    // l = 0 only in split mode, for a row that sees no key of this chunk: it must weigh 0 in the merge
    let inv = select(0.0, 1.0 / l[r], l[r] > 0.0);
    for (var i = 0u; i < NC; i++) {
      let col = cg + i * CG;
      if (col < HEAD_DIM) { out[outSlot + qBase + t * qStride + h * HEAD_DIM + col] = acc[i][r] * inv; }
    }
    if (cg == 0u) { lse[lseSlot + (b * p.heads + h) * p.seq + t] = select(MASKED, m[r] + log(l[r]), l[r] > 0.0); }
  }
}
