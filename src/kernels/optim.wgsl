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

// Stage 1 for up to 8 tensors in one dispatch (dispatches cost ~6–17 µs each on an H100 and LoRA has hundreds of
// small gradients): workgroup (g, j) does share g of tensor j. Unused slots are bound to any buffer with nV 0.
struct Slots { s: array<vec4<u32>, 8> } // per slot: nV, offset, groups, _
@group(0) @binding(0) var<uniform> slots: Slots;
@group(0) @binding(1) var<storage, read> src0: array<V>;
@group(0) @binding(2) var<storage, read> src1: array<V>;
@group(0) @binding(3) var<storage, read> src2: array<V>;
@group(0) @binding(4) var<storage, read> src3: array<V>;
@group(0) @binding(5) var<storage, read> src4: array<V>;
@group(0) @binding(6) var<storage, read> src5: array<V>;
@group(0) @binding(7) var<storage, read> src6: array<V>;
@group(0) @binding(8) var<storage, read> src7: array<V>;
@group(0) @binding(9) var<storage, read_write> sq8_partials: array<f32>;

fn load8(j: u32, i: u32) -> V {
  switch j {
    case 0u: { return src0[i]; }
    case 1u: { return src1[i]; }
    case 2u: { return src2[i]; }
    case 3u: { return src3[i]; }
    case 4u: { return src4[i]; }
    case 5u: { return src5[i]; }
    case 6u: { return src6[i]; }
    default: { return src7[i]; }
  }
}

@compute @workgroup_size(WG)
fn partial_squares8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let slot = slots.s[wg.y];
  let nV = slot.x;
  let groups = slot.z;
  if (wg.x >= groups) { return; } // this tensor needs fewer workgroups than the widest in the batch
  var acc = 0.0;
  for (var i = wg.x * WG + lid; i < nV; i += groups * WG) {
    let v = load8(wg.y, i);
    acc += hsum(v * v);
  }
  let total = blockSum(acc, lid);
  if (lid == 0u) { sq8_partials[slot.y + wg.x] = total; }
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

// The update of one V of a tensor; clip is the same for every element of a step.
struct Moments { p: V, m: V, v: V }

fn clipFactor(h: Hyper) -> f32 {
  if (h.maxGradNorm <= 0.0) { return 1.0; }
  let norm = sqrt(normSq[0]) * abs(h.gradScale);
  return min(1.0, h.maxGradNorm / (norm + 1e-6));
}

fn adamwUpdate(h: Hyper, gradScaleClip: f32, param: V, grad: V, m0: V, v0: V) -> Moments {
  let g = grad * gradScaleClip;
  let p = param * h.decay;
  // torch.lerp(m, g, w): m + w·(g − m) for w < 0.5, g − (g − m)·(1 − w) otherwise
  var m: V;
  if (h.oneMinusBeta1 < 0.5) { m = m0 + h.oneMinusBeta1 * (g - m0); } else { m = g - (g - m0) * h.beta1; }
  let v = v0 * h.beta2 + h.oneMinusBeta2 * (g * g);
  return Moments(p - h.stepSize * (m / (sqrt(v) / h.bc2Sqrt + h.eps)), m, v);
}

@group(0) @binding(5) var<storage, read> hyper: Hyper;
@group(0) @binding(6) var<storage, read> normSq: array<f32>;

// One tensor per dispatch.
struct AdamParams { nV: u32 }
@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var<storage, read_write> param: array<V>;
@group(0) @binding(2) var<storage, read> grad: array<V>;
@group(0) @binding(3) var<storage, read_write> m1: array<V>;
@group(0) @binding(4) var<storage, read_write> m2: array<V>;

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = flatGroup(wg, nwg) * WG + lid;
  if (i >= ap.nV) { return; }
  let h = hyper;
  let r = adamwUpdate(h, h.gradScale * clipFactor(h), param[i], grad[i], m1[i], m2[i]);
  param[i] = r.p;
  m1[i] = r.m;
  m2[i] = r.v;
}

// Two tensors per dispatch (10 storage buffers, which SwiftShader and most GPUs bind): workgroup (x, j)
// updates share x of tensor j. LoRA has hundreds of small tensors and a dispatch costs ~6 µs on an H100
// whatever its size. hyper and normSq keep bindings 5 and 6 as above; the tensors take 1–4 and 7–10.
struct Adam2Params { nV: vec2<u32> }
@group(0) @binding(0) var<uniform> ap2: Adam2Params;
@group(0) @binding(1) var<storage, read_write> pa: array<V>;
@group(0) @binding(2) var<storage, read> ga: array<V>;
@group(0) @binding(3) var<storage, read_write> ma: array<V>;
@group(0) @binding(4) var<storage, read_write> va: array<V>;
@group(0) @binding(7) var<storage, read_write> pb: array<V>;
@group(0) @binding(8) var<storage, read> gb: array<V>;
@group(0) @binding(9) var<storage, read_write> mb: array<V>;
@group(0) @binding(10) var<storage, read_write> vb: array<V>;

@compute @workgroup_size(WG)
fn adamw2(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x * WG + lid;
  if (i >= ap2.nV[wg.y]) { return; }
  let h = hyper;
  let gsc = h.gradScale * clipFactor(h);
  if (wg.y == 0u) {
    let r = adamwUpdate(h, gsc, pa[i], ga[i], ma[i], va[i]);
    pa[i] = r.p;
    ma[i] = r.m;
    va[i] = r.v;
  } else {
    let r = adamwUpdate(h, gsc, pb[i], gb[i], mb[i], vb[i]);
    pb[i] = r.p;
    mb[i] = r.m;
    vb[i] = r.v;
  }
}
