// Cross-entropy over the vocabulary, forward and backward fused, one workgroup per row:
//   lse = log Σ_v exp(logits[v]);  rowLoss = scale·(lse − logits[label])
//   logits ← scale·(softmax(logits) − onehot(label))   (in place: the [rows, vocab] gradient needs no buffer)
// Rows whose label is outside [0, vocab) (-100: ignore_index) get rowLoss 0 and a zero gradient.
// Pass 1 keeps a running (max, Σ exp(x − max)) per thread, rescaling Σ only when the max grows, so the
// logits are read twice in all (pass 1, pass 2) for any vocabulary size.
// scale is a storage value (e.g. 1/number of label tokens in the batch), so it can change every step.

struct Params { rows: u32, vocabV: u32, vocab: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<V>;   // [rows, vocab] → dlogits
@group(0) @binding(2) var<storage, read> labels: array<i32>;       // [rows]
@group(0) @binding(3) var<storage, read> scale: array<f32>;        // [1]
@group(0) @binding(4) var<storage, read_write> rowLoss: array<f32>; // [rows]

var<workgroup> wmax: array<f32, WG>;
var<workgroup> wsum: array<f32, WG>;

const LOWEST = -3.0e38; // below any finite logit we expect; exp(LOWEST − m) = 0

@compute @workgroup_size(WG)
fn cross_entropy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.vocabV;
  let label = labels[row];
  if (label < 0 || label >= i32(p.vocab)) {
    for (var i = lid; i < p.vocabV; i += WG) { logits[base + i] = V(0.0); }
    if (lid == 0u) { rowLoss[row] = 0.0; }
    return;
  }
  let tgt = u32(label);
  let tgtLogit = lane(logits[base + tgt / W], tgt % W); // read before pass 2 overwrites it

  // pass 1: per-thread online max and sum of exponentials
  var m = LOWEST;
  var s = 0.0;
  for (var i = lid; i < p.vocabV; i += WG) {
    let v = logits[base + i];
    let mv = hmax(v);
    if (mv > m) {
      s *= exp(m - mv);
      m = mv;
    }
    s += hsum(exp(v - m));
  }
  // workgroup combine of (m, s) pairs: (m1, s1) ⊕ (m2, s2) = (M, s1·e^(m1−M) + s2·e^(m2−M))
  wmax[lid] = m;
  wsum[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let m2 = wmax[lid + stride];
      let s2 = wsum[lid + stride];
      let mm = max(m, m2);
      s = s * exp(m - mm) + s2 * exp(m2 - mm);
      m = mm;
      wmax[lid] = m;
      wsum[lid] = s;
    }
    workgroupBarrier();
  }
  let lse = wmax[0] + log(wsum[0]);
  let sc = scale[0];
  if (lid == 0u) { rowLoss[row] = sc * (lse - tgtLogit); }

  // pass 2: dlogits = scale·(softmax − onehot)
  let tgtV = tgt / W;
  for (var i = lid; i < p.vocabV; i += WG) {
    var g = exp(logits[base + i] - lse);
    if (i == tgtV) { g -= unitLane(tgt % W); }
    logits[base + i] = sc * g;
  }
}

// dst[0] (+)= Σ src, one workgroup (fixed summation order: deterministic). For per-row losses and other
// short vectors; src is walked in V units with stride WG.
override ACCUMULATE: bool = false;

struct SumParams { nV: u32 }
@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> sum_src: array<V>;
@group(0) @binding(2) var<storage, read_write> sum_dst: array<f32>;

@compute @workgroup_size(WG)
fn reduce_sum(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < sp.nV; i += WG) { acc += hsum(sum_src[i]); }
  let total = blockSum(acc, lid);
  if (lid == 0u) {
    if (ACCUMULATE) { sum_dst[0] += total; } else { sum_dst[0] = total; }
  }
}
