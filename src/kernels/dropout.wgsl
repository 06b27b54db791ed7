// Inverted dropout (torch.nn.Dropout in training) whose mask is never stored: element e of micro-batch c keeps its
// value, scaled by 1/(1 − p), iff a counter-based hash of (stream, c, e) clears the threshold:
//   key  = pcg(stream ^ pcg(c))                 stream: a layer's own (seed, name) mix; c: counter[0]
//   h(e) = pcg(pcg(e) ^ key)                    e: flat element index
//   keep = (h >> 8) ≥ threshold,  threshold = ⌈p·2²⁴⌉   (24 uniform bits: P(keep) = 1 − p to within 2⁻²⁴)
// so the backward regenerates exactly the forward's mask from the same counter.
//   dst = keep ? src/(1 − p) : 0        (ACCUMULATE: dst += that)
// pcg: the PCG hash of Jarzynski & Olano, "Hash Functions for GPU Rendering" (JCGT 2020).
// One thread per V element (V = f32 or vec4<f32>; U the matching u32 type, LANES the lane offsets); 2D grids.

override ACCUMULATE: bool = false;

struct Params { nV: u32, stream: u32, threshold: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> counter: array<u32>; // [1]: the micro-batch counter c
@group(0) @binding(2) var<storage, read> src: array<V>;
@group(0) @binding(3) var<storage, read_write> dst: array<V>;

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn pcgU(v: U) -> U {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> U(28u)) + U(4u))) ^ s) * 277803737u;
  return (w >> U(22u)) ^ w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flatGroup(wg, nwg) * WG + lid;
  if (i >= p.nV) { return; }
  let key = pcg(p.stream ^ pcg(counter[0]));
  let h = pcgU(pcgU(U(i * W) + LANES) ^ U(key));
  let keep = (h >> U(8u)) >= U(p.threshold);
  var v = select(V(0.0), src[i] * p.scale, keep);
  if (ACCUMULATE) { v = dst[i] + v; }
  dst[i] = v;
}
