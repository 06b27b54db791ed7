// Optimizer family: the global gradient norm (two-stage, deterministic) and AdamW with clipping.
// V is f32 or vec4<f32> (lanes.ts); counts in the params are in V units.

// ---------------------------------------------------------------------------------------------------
// Stage 1, once per tensor: partials[offset + g] = Σ over workgroup g's strided share of x².
// A fixed number of workgroups per tensor and fixed strides make the summation order, hence the result,
// the same every run.
struct PartialParams { nV: u32, offset: u32, groups: u32 }
@group(0) @binding(0) var<uniform> pp: PartialParams;
@group(0) @binding(1) var<storage, read> sq_src: array<V>;
@group(0) @binding(2) var<storage, read_write> sq_partials: array<f32>;

@compute @workgroup_size(WG)
fn partial_squares(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = wg.x * WG + lid; i < pp.nV; i += pp.groups * WG) {
    let v = sq_src[i];
    acc += hsum(v * v);
  }
  let total = blockSum(acc, lid);
  if (lid == 0u) { sq_partials[pp.offset + wg.x] = total; }
}

// Stage 2, once: out[0] = Σ partials[0..count) in one workgroup.
struct SumParams { count: u32 }
@group(0) @binding(0) var<uniform> sp: SumParams;
@group(0) @binding(1) var<storage, read> sum_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> sum_out: array<f32>;

@compute @workgroup_size(WG)
fn sum_partials_main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < sp.count; i += WG) { acc += sum_partials[i]; }
  let total = blockSum(acc, lid);
  if (lid == 0u) { sum_out[0] = total; }
}

// ---------------------------------------------------------------------------------------------------
// AdamW, as torch.optim.AdamW (decoupled weight decay), after torch.nn.utils.clip_grad_norm_:
//   clip = min(1, maxGradNorm / (‖grad·gradScale‖ + 1e-6))   (1 when maxGradNorm = 0)
//   g = grad·gradScale·clip
//   p ← p·(1 − lr·wd)
//   m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps)       bc_k = 1 − β_k^step
// Everything that changes per step lives in the `hyper` storage buffer (see adamwHyper in optim.ts).
struct Hyper {
  decay: f32,          // 1 − lr·weightDecay
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  stepSize: f32,       // lr / bc1
  bc2Sqrt: f32,        // sqrt(bc2)
  eps: f32,
  maxGradNorm: f32,    // 0: no clipping
  gradScale: f32,
}

struct AdamParams { nV: u32 }
@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read_write> param: array<V>;
@group(0) @binding(2) var<storage, read> grad: array<V>;
@group(0) @binding(3) var<storage, read_write> m1: array<V>;
@group(0) @binding(4) var<storage, read_write> m2: array<V>;
@group(0) @binding(5) var<storage, read> hyper: Hyper;
@group(0) @binding(6) var<storage, read> normSq: array<f32>;

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = flatGroup(wg, nwg) * WG + lid;
  if (i >= ap.nV) { return; }
  let h = hyper;
  var clip = 1.0;
  if (h.maxGradNorm > 0.0) {
    let norm = sqrt(normSq[0]) * abs(h.gradScale);
    clip = min(1.0, h.maxGradNorm / (norm + 1e-6));
  }
  let g = grad[i] * (h.gradScale * clip);
  let p = param[i] * h.decay;
  // torch.lerp(m, g, w): m + w·(g − m) for w < 0.5, g − (g − m)·(1 − w) otherwise
  let m0 = m1[i];
  var m: V;
  if (h.oneMinusBeta1 < 0.5) { m = m0 + h.oneMinusBeta1 * (g - m0); } else { m = g - (g - m0) * h.beta1; }
  let v = m2[i] * h.beta2 + h.oneMinusBeta2 * (g * g);
  m1[i] = m;
  m2[i] = v;
  param[i] = p - h.stepSize * (m / (sqrt(v) / h.bc2Sqrt + h.eps));
}
