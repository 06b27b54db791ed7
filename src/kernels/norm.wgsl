// RMSNorm (Llama, Qwen2) and LayerNorm (GPT-2), forward and backward, one workgroup per row.
// x, y, dy, dx [rows, dim]; weight, bias [dim]; mean, rstd [rows] saved by the forward for the backward.
// The preamble from lanes.ts gives V (f32 or vec4<f32>), W, hsum and blockSum: rows are walked in V units
// (dimV = dim / W) with neighbouring threads on neighbouring addresses. The norm weights are frozen in
// LoRA training, so the backwards produce dx only.
// Each thread keeps its first CACHE elements of the row in registers (8 vec4 × 256 threads = 8192 floats,
// every hidden size up to Llama-70B's), so the row is read from memory once; longer rows stream the rest
// (the `tail` loops). On an H100 this took RMSNorm from ~2.1 to ~2.7 TB/s. WG (threads per row) is set by
// norm.ts from the row length: 64 for short rows, up to 256.

override ACCUMULATE: bool = false; // dx += instead of dx =

const CACHE = 8u;  // V elements per thread held in registers

struct Params { rows: u32, dimV: u32, dim: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;

// ---------------------------------------------------------------------------------------------------
// RMSNorm forward: rstd = 1/sqrt(mean(x²) + eps); y = weight · (x · rstd) (Llama's order, all in f32)

@group(0) @binding(1) var<storage, read> rms_x: array<V>;
@group(0) @binding(2) var<storage, read> rms_w: array<V>;
@group(0) @binding(3) var<storage, read_write> rms_y: array<V>;
@group(0) @binding(4) var<storage, read_write> rms_rstd: array<f32>;

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dimV;
  var xs: array<V, CACHE>;
  var ss = 0.0;
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      xs[k] = rms_x[base + i];
      ss += hsum(xs[k] * xs[k]);
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) { // tail
    let v = rms_x[base + i];
    ss += hsum(v * v);
  }
  let r = inverseSqrt(blockSum(ss, lid) / f32(p.dim) + p.eps);
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) { rms_y[base + i] = rms_w[i] * (xs[k] * r); }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) { rms_y[base + i] = rms_w[i] * (rms_x[base + i] * r); }
  if (lid == 0u) { rms_rstd[row] = r; }
}

// RMSNorm backward. With g = dy·weight and y = x·r·weight:
//   dx = r·g − x · r³ · Σ(g·x) / dim
@group(0) @binding(1) var<storage, read> rmsb_dy: array<V>;
@group(0) @binding(2) var<storage, read> rmsb_x: array<V>;
@group(0) @binding(3) var<storage, read> rmsb_w: array<V>;
@group(0) @binding(4) var<storage, read> rmsb_rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> rmsb_dx: array<V>;

@compute @workgroup_size(WG)
fn rmsnorm_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dimV;
  let r = rmsb_rstd[row];
  var gs: array<V, CACHE>; // dy·weight
  var xs: array<V, CACHE>;
  var gx = 0.0;
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      gs[k] = rmsb_dy[base + i] * rmsb_w[i];
      xs[k] = rmsb_x[base + i];
      gx += hsum(gs[k] * xs[k]);
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) { gx += hsum(rmsb_dy[base + i] * rmsb_w[i] * rmsb_x[base + i]); }
  let c = blockSum(gx, lid) * r * r * r / f32(p.dim);
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      let d = r * gs[k] - c * xs[k];
      if (ACCUMULATE) { rmsb_dx[base + i] += d; } else { rmsb_dx[base + i] = d; }
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) {
    let d = r * (rmsb_dy[base + i] * rmsb_w[i]) - c * rmsb_x[base + i];
    if (ACCUMULATE) { rmsb_dx[base + i] += d; } else { rmsb_dx[base + i] = d; }
  }
}

// ---------------------------------------------------------------------------------------------------
// LayerNorm forward (biased variance, as torch): y = (x − mean) · rstd · weight + bias.
// Two passes over the row (mean, then Σ(x − mean)²) rather than E[x²] − mean², which cancels badly.

@group(0) @binding(1) var<storage, read> ln_x: array<V>;
@group(0) @binding(2) var<storage, read> ln_w: array<V>;
@group(0) @binding(3) var<storage, read> ln_b: array<V>;
@group(0) @binding(4) var<storage, read_write> ln_y: array<V>;
@group(0) @binding(5) var<storage, read_write> ln_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> ln_rstd: array<f32>;

@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dimV;
  var xs: array<V, CACHE>;
  var s = 0.0;
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      xs[k] = ln_x[base + i];
      s += hsum(xs[k]);
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) { s += hsum(ln_x[base + i]); }
  let mean = blockSum(s, lid) / f32(p.dim);
  var ss = 0.0;
  for (var k = 0u; k < CACHE; k++) {
    if (lid + k * WG < p.dimV) {
      let d = xs[k] - mean;
      ss += hsum(d * d);
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) {
    let d = ln_x[base + i] - mean;
    ss += hsum(d * d);
  }
  let r = inverseSqrt(blockSum(ss, lid) / f32(p.dim) + p.eps);
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) { ln_y[base + i] = (xs[k] - mean) * r * ln_w[i] + ln_b[i]; }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) { ln_y[base + i] = (ln_x[base + i] - mean) * r * ln_w[i] + ln_b[i]; }
  if (lid == 0u) {
    ln_mean[row] = mean;
    ln_rstd[row] = r;
  }
}

// LayerNorm backward. With xhat = (x − mean)·r and g = dy·weight:
//   dx = r · (g − mean(g) − xhat · mean(g·xhat))
@group(0) @binding(1) var<storage, read> lnb_dy: array<V>;
@group(0) @binding(2) var<storage, read> lnb_x: array<V>;
@group(0) @binding(3) var<storage, read> lnb_w: array<V>;
@group(0) @binding(4) var<storage, read> lnb_mean: array<f32>;
@group(0) @binding(5) var<storage, read> lnb_rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> lnb_dx: array<V>;

@compute @workgroup_size(WG)
fn layernorm_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let row = flatGroup(wg, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dimV;
  let mean = lnb_mean[row];
  let r = lnb_rstd[row];
  var gs: array<V, CACHE>; // dy·weight
  var xh: array<V, CACHE>; // xhat
  var sg = 0.0;
  var sgx = 0.0;
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      gs[k] = lnb_dy[base + i] * lnb_w[i];
      xh[k] = (lnb_x[base + i] - mean) * r;
      sg += hsum(gs[k]);
      sgx += hsum(gs[k] * xh[k]);
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) {
    let g = lnb_dy[base + i] * lnb_w[i];
    sg += hsum(g);
    sgx += hsum(g * (lnb_x[base + i] - mean) * r);
  }
  let meanG = blockSum(sg, lid) / f32(p.dim);
  let meanGX = blockSum(sgx, lid) / f32(p.dim);
  for (var k = 0u; k < CACHE; k++) {
    let i = lid + k * WG;
    if (i < p.dimV) {
      let d = r * (gs[k] - meanG - xh[k] * meanGX);
      if (ACCUMULATE) { lnb_dx[base + i] += d; } else { lnb_dx[base + i] = d; }
    }
  }
  for (var i = lid + CACHE * WG; i < p.dimV; i += WG) {
    let xhat = (lnb_x[base + i] - mean) * r;
    let d = r * (lnb_dy[base + i] * lnb_w[i] - meanG - xhat * meanGX);
    if (ACCUMULATE) { lnb_dx[base + i] += d; } else { lnb_dx[base + i] = d; }
  }
}
