// Attention backward, head split's merge: dk = Σ_s partK[s], dv = Σ_s partV[s] over the `splits` slots
// left by attention_dkv.wgsl, in slot order (deterministic).
//   partK, partV [splits][B, seq, KV, D] → dk, dv [B, seq, KV, D]. One thread per element.

struct Params { elements: u32, splits: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partK: array<f32>;
@group(0) @binding(2) var<storage, read> partV: array<f32>;
@group(0) @binding(3) var<storage, read_write> dk: array<f32>;
@group(0) @binding(4) var<storage, read_write> dv: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 64u + lid;
  if (i >= p.elements) { return; }
  var sk = 0.0;
  var sv = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    sk += partK[s * p.elements + i];
    sv += partV[s * p.elements + i];
  }
  dk[i] = sk;
  dv[i] = sv;
}
