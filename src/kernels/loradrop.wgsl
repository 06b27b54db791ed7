// LoRA-drop's importance (arXiv 2402.07721): per token t, the weighted squared norm of the LoRA branch's output
//   rowSq[t] = w[t] · ‖s·B·xa_t‖² = w[t] · s² · Σ_o (Σ_k B[o,k]·xa[t,k])²        xa = x·Aᵀ [T, r], B [out, r]
// computed from the rank-r activations, so the [T, out] output is never stored. w[t] is the row weight (1 for the
// tokens the loss sees, 0 for padding). One workgroup per token (2D grid past 65535), threads stride over o.

struct Params { tokens: u32, outDim: u32, rank: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xa: array<f32>;              // [T, r]
@group(0) @binding(2) var<storage, read> loraB: array<f32>;           // [out, r]
@group(0) @binding(3) var<storage, read> rowWeight: array<f32>;       // [T]
@group(0) @binding(4) var<storage, read_write> rowSq: array<f32>;     // [T]

@compute @workgroup_size(WG)
fn lowrank_row_sumsq(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let t = flatGroup(wg, nwg);
  if (t >= p.tokens) { return; }
  let w = rowWeight[t];
  // uniform over the workgroup (one token): padding rows cost one write
  if (w == 0.0) {
    if (lid == 0u) { rowSq[t] = 0.0; }
    return;
  }
  var acc = 0.0;
  for (var o = lid; o < p.outDim; o += WG) {
    var z = 0.0; // (B·xa_t)[o]
    for (var k = 0u; k < p.rank; k++) { z += loraB[o * p.rank + k] * xa[t * p.rank + k]; }
    acc += z * z;
  }
  let total = blockSum(acc, lid);
  if (lid == 0u) { rowSq[t] = w * p.scale * p.scale * total; }
}
