// AdaLoRA's small kernels (PEFT tuners/adalora): the orthogonal regulariser's norm and gradient factor, its loss
// term, the RankAllocator's importance averages, the per-triplet scores, and the mask on E.
//   orth_norm:     M = P − I (P = A·Aᵀ or Bᵀ·B, [r, r]);  norms[slot] = ‖M‖_F;  P ← (coef/‖M‖_F)·M   (0 if ‖M‖ = 0)
//   orth_loss:     lossSum[0] += weight · Σ norms / count
//   importance:    ipt = |p ⊙ (g·clip)|;  ī ← β₁ī + (1−β₁)ipt;  ū ← β₂ū + (1−β₂)|ipt − ī|     (V lanes)
//   triplet_score: score_k = ī_E ū_E [k] + (mean_i (ī ū)_A[k, i] + mean_o (ī ū)_B[o, k])
//   mask_e:        E[k] ← 0 where mask[k] = 0

// ---- orth_norm: one workgroup, P [r, r] in place ----
struct NormParams { r: u32, slot: u32, coef: f32 }
@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read_write> cov: array<f32>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;

fn minusIdentity(e: u32) -> f32 {
  return cov[e] - select(0.0, 1.0, e / np.r == e % np.r);
}

@compute @workgroup_size(WG)
fn orth_norm(@builtin(local_invocation_index) lid: u32) {
  let n = np.r * np.r;
  var acc = 0.0;
  for (var e = lid; e < n; e += WG) {
    let v = minusIdentity(e);
    acc += v * v;
  }
  let norm = sqrt(blockSum(acc, lid));
  // torch's norm backward is 0 at a zero norm (masked), not NaN
  let f = select(0.0, np.coef / norm, norm > 0.0);
  for (var e = lid; e < n; e += WG) { cov[e] = f * minusIdentity(e); }
  if (lid == 0u) { norms[np.slot] = norm; }
}

// ---- orth_loss: one workgroup ----
struct LossParams { count: u32, weight: f32 }
@group(0) @binding(0) var<uniform> lp: LossParams;
@group(0) @binding(1) var<storage, read> lossNorms: array<f32>;
@group(0) @binding(2) var<storage, read_write> lossSum: array<f32>;

@compute @workgroup_size(WG)
fn orth_loss(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < lp.count; i += WG) { acc += lossNorms[i]; }
  let total = blockSum(acc, lid);
  if (lid == 0u) { lossSum[0] += lp.weight * (total / f32(lp.count)); }
}

// ---- importance: one thread per V of a tensor ----
struct IptParams { nV: u32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, maxGradNorm: f32 }
@group(0) @binding(0) var<uniform> ip: IptParams;
@group(0) @binding(1) var<storage, read> param: array<V>;
@group(0) @binding(2) var<storage, read> grad: array<V>;
@group(0) @binding(3) var<storage, read> normSq: array<f32>;
@group(0) @binding(4) var<storage, read_write> avgIpt: array<V>;
@group(0) @binding(5) var<storage, read_write> avgUnc: array<V>;

@compute @workgroup_size(WG)
fn importance(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = flatGroup(wg, nwg) * WG + lid;
  if (i >= ip.nV) { return; }
  // PEFT reads p.grad after clip_grad_norm_ scaled it in place (the same factor as optim.wgsl's clipFactor)
  var clip = 1.0;
  if (ip.maxGradNorm > 0.0) { clip = min(1.0, ip.maxGradNorm / (sqrt(normSq[0]) + 1e-6)); }
  let ipt = abs(param[i] * (grad[i] * clip));
  let a = ip.beta1 * avgIpt[i] + ip.oneMinusBeta1 * ipt;
  avgIpt[i] = a;
  avgUnc[i] = ip.beta2 * avgUnc[i] + ip.oneMinusBeta2 * abs(ipt - a);
}

// ---- triplet_score: one workgroup per rank k of one module ----
struct ScoreParams { r: u32, inDim: u32, outDim: u32, offset: u32 }
@group(0) @binding(0) var<uniform> sc: ScoreParams;
@group(0) @binding(1) var<storage, read> iptA: array<f32>; // [r, in]
@group(0) @binding(2) var<storage, read> uncA: array<f32>;
@group(0) @binding(3) var<storage, read> iptE: array<f32>; // [r]
@group(0) @binding(4) var<storage, read> uncE: array<f32>;
@group(0) @binding(5) var<storage, read> iptB: array<f32>; // [out, r]
@group(0) @binding(6) var<storage, read> uncB: array<f32>;
@group(0) @binding(7) var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(WG)
fn triplet_score(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = wg.x;
  var a = 0.0;
  for (var i = lid; i < sc.inDim; i += WG) { a += iptA[k * sc.inDim + i] * uncA[k * sc.inDim + i]; }
  let sumA = blockSum(a, lid);
  var b = 0.0;
  for (var o = lid; o < sc.outDim; o += WG) { b += iptB[o * sc.r + k] * uncB[o * sc.r + k]; }
  let sumB = blockSum(b, lid);
  // PEFT's _combine_ipt: the A and B means are summed first, then E's score is added
  if (lid == 0u) { scores[sc.offset + k] = iptE[k] * uncE[k] + (sumA / f32(sc.inDim) + sumB / f32(sc.outDim)); }
}

// ---- mask_e: one thread per rank ----
struct MaskParams { r: u32, offset: u32 }
@group(0) @binding(0) var<uniform> mp: MaskParams;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> loraE: array<f32>;

@compute @workgroup_size(WG)
fn mask_e(@builtin(local_invocation_index) lid: u32) {
  for (var k = lid; k < mp.r; k += WG) {
    if (mask[mp.offset + k] == 0.0) { loraE[k] = 0.0; }
  }
}
