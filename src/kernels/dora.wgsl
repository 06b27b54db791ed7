// DoRA (arXiv 2402.09353) kernels, as PEFT's DoraLinearLayer: the weight's row norm, detached,
//   n[o] = ‖W₀[o,:] + s·(B·A)[o,:]‖₂,   c[o] = m[o] / n[o]
// forward  z = y (= x·W₀ᵀ + s·x·Aᵀ·Bᵀ, saved);  y = c ⊙ z        (column-wise scale of [T, out])
// backward dz = c ⊙ dy (the LoRA and base paths then use dz);  dm[o] (+)= Σ_t dy[t,o]·z[t,o] / n[o]
// W₀ is bound as raw u32 words (f32, or packed 16-bit: element 2i in the low half), [out, in] or Conv1D [in, out].

override W_DTYPE: u32 = 0u;       // 0 f32, 1 f16, 2 bf16
override W_TRANSPOSED: u32 = 1u;  // 1: stored [out, in] (Linear); 0: [in, out] (Conv1D)
override ACCUMULATE: u32 = 0u;

struct Params { tokens: u32, inDim: u32, outDim: u32, rank: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;

fn decode(word: u32, e: u32) -> f32 {
  let high = (e & 1u) == 1u;
  if (W_DTYPE == 0u) { return bitcast<f32>(word); }
  if (W_DTYPE == 1u) {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, high);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}

// ---- row norm: one workgroup per output row o ----
@group(0) @binding(1) var<storage, read> w: array<u32>;              // W₀
@group(0) @binding(2) var<storage, read> loraA: array<f32>;          // [r, in]
@group(0) @binding(3) var<storage, read> loraB: array<f32>;          // [out, r]
@group(0) @binding(4) var<storage, read> magnitude: array<f32>;      // [out]
@group(0) @binding(5) var<storage, read_write> norm: array<f32>;     // [out]
@group(0) @binding(6) var<storage, read_write> colScale: array<f32>; // [out]

fn weightAt(o: u32, i: u32) -> f32 {
  let e = select(i * p.outDim + o, o * p.inDim + i, W_TRANSPOSED == 1u);
  return decode(w[select(e >> 1u, e, W_DTYPE == 0u)], e);
}

@compute @workgroup_size(WG)
fn row_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let o = flatGroup(wg, nwg);
  if (o >= p.outDim) { return; }
  var acc = 0.0;
  for (var i = lid; i < p.inDim; i += WG) {
    var ba = 0.0; // (B·A)[o, i]
    for (var k = 0u; k < p.rank; k++) { ba += loraB[o * p.rank + k] * loraA[k * p.inDim + i]; }
    let v = weightAt(o, i) + p.scale * ba;
    acc += v * v;
  }
  let total = blockSum(acc, lid);
  if (lid == 0u) {
    let n = sqrt(total);
    norm[o] = n;
    colScale[o] = magnitude[o] / n;
  }
}

// ---- forward scale: one thread per element of [T, out] ----
@group(0) @binding(1) var<storage, read_write> y: array<f32>;        // [T, out]
@group(0) @binding(2) var<storage, read_write> zSaved: array<f32>;   // [T, out]
@group(0) @binding(3) var<storage, read> scaleF: array<f32>;         // c [out]

@compute @workgroup_size(WG)
fn scale_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let e = flatGroup(wg, nwg) * WG + lid;
  if (e >= p.tokens * p.outDim) { return; }
  let z = y[e];
  zSaved[e] = z;
  y[e] = scaleF[e % p.outDim] * z;
}

// ---- backward dz = c ⊙ dy: one thread per element ----
@group(0) @binding(1) var<storage, read> dyIn: array<f32>;           // [T, out]
@group(0) @binding(2) var<storage, read> scaleB: array<f32>;         // c [out]
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;       // [T, out]

@compute @workgroup_size(WG)
fn scale_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let e = flatGroup(wg, nwg) * WG + lid;
  if (e >= p.tokens * p.outDim) { return; }
  dz[e] = scaleB[e % p.outDim] * dyIn[e];
}

// ---- magnitude gradient: one workgroup per column o, threads over tokens ----
@group(0) @binding(1) var<storage, read> dyM: array<f32>;            // [T, out]
@group(0) @binding(2) var<storage, read> zM: array<f32>;             // [T, out]
@group(0) @binding(3) var<storage, read> normM: array<f32>;          // [out]
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;       // [out]

@compute @workgroup_size(WG)
fn magnitude_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let o = flatGroup(wg, nwg);
  if (o >= p.outDim) { return; }
  var acc = 0.0;
  for (var t = lid; t < p.tokens; t += WG) { acc += dyM[t * p.outDim + o] * zM[t * p.outDim + o]; }
  let total = blockSum(acc, lid) / normM[o];
  if (lid == 0u) { dm[o] = select(0.0, dm[o], ACCUMULATE == 1u) + total; }
}
