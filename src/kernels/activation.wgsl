// Element-wise kernels: SwiGLU (Llama, Qwen2 MLP), gelu_new (GPT-2 MLP), residual add, bias add.
// One thread per V element (V = f32 or vec4<f32> from lanes.ts; counts in the params are in V units).
// The grid may be 2D (lanes.ts grid()): i = flatGroup·WG + lid, guarded against the padded tail.

override ACCUMULATE: bool = false; // geluBackward: dx += instead of dx =

struct Params { nV: u32, colsV: u32 }

@group(0) @binding(0) var<uniform> p: Params;

fn index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 { return flatGroup(wg, nwg) * WG + lid; }

fn sigmoid(x: V) -> V { return 1.0 / (1.0 + exp(-x)); } // exp(-x) = inf for x ≪ 0 gives 0, not NaN

// ---------------------------------------------------------------------------------------------------
// SwiGLU: out = silu(gate)·up, silu(g) = g·σ(g).   gate, up, out [n]
@group(0) @binding(1) var<storage, read> sw_gate: array<V>;
@group(0) @binding(2) var<storage, read> sw_up: array<V>;
@group(0) @binding(3) var<storage, read_write> sw_out: array<V>;

@compute @workgroup_size(WG)
fn swiglu_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  let g = sw_gate[i];
  sw_out[i] = g * sigmoid(g) * sw_up[i];
}

// dgate = dout·up·σ(g)·(1 + g·(1 − σ(g)));  dup = dout·silu(g)
@group(0) @binding(1) var<storage, read> swb_dout: array<V>;
@group(0) @binding(2) var<storage, read> swb_gate: array<V>;
@group(0) @binding(3) var<storage, read> swb_up: array<V>;
@group(0) @binding(4) var<storage, read_write> swb_dgate: array<V>;
@group(0) @binding(5) var<storage, read_write> swb_dup: array<V>;

@compute @workgroup_size(WG)
fn swiglu_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  let g = swb_gate[i];
  let d = swb_dout[i];
  let s = sigmoid(g);
  swb_dgate[i] = d * swb_up[i] * s * (1.0 + g * (1.0 - s));
  swb_dup[i] = d * g * s;
}

// ---------------------------------------------------------------------------------------------------
// gelu_new (GPT-2): y = 0.5·x·(1 + tanh(k·(x + 0.044715·x³))), k = sqrt(2/π).
// The tanh argument is clamped to ±15 (tanh is ±1 in f32 there) so no implementation's
// (e^2u − 1)/(e^2u + 1) can overflow into inf/inf for large |x|.
const GELU_K = 0.7978845608028654;
const GELU_C = 0.044715;

fn geluTanh(x: V) -> V { return tanh(clamp(GELU_K * (x + GELU_C * x * x * x), V(-15.0), V(15.0))); }

@group(0) @binding(1) var<storage, read> ge_x: array<V>;
@group(0) @binding(2) var<storage, read_write> ge_y: array<V>;

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  let x = ge_x[i];
  ge_y[i] = 0.5 * x * (1.0 + geluTanh(x));
}

// dy/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3·0.044715·x²),  t = tanh(k·(x + 0.044715·x³))
@group(0) @binding(1) var<storage, read> geb_dy: array<V>;
@group(0) @binding(2) var<storage, read> geb_x: array<V>;
@group(0) @binding(3) var<storage, read_write> geb_dx: array<V>;

@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  let x = geb_x[i];
  let t = geluTanh(x);
  let d = geb_dy[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * x * x));
  if (ACCUMULATE) { geb_dx[i] += d; } else { geb_dx[i] = d; }
}

// ---------------------------------------------------------------------------------------------------
// dst += src (residual connections and their gradients)
@group(0) @binding(1) var<storage, read_write> add_dst: array<V>;
@group(0) @binding(2) var<storage, read> add_src: array<V>;

@compute @workgroup_size(WG)
fn add_into(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  add_dst[i] += add_src[i];
}

// y[r, c] += bias[c]   y [rows, cols] (nV = rows·colsV)
@group(0) @binding(1) var<storage, read_write> ba_y: array<V>;
@group(0) @binding(2) var<storage, read> ba_bias: array<V>;

@compute @workgroup_size(WG)
fn bias_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let i = index(wg, nwg, lid);
  if (i >= p.nV) { return; }
  ba_y[i] += ba_bias[i % p.colsV];
}
