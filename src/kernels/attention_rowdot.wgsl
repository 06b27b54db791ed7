// Attention backward, first pass: rowDot[b, h, t] = Σ_d dout[b, t, h, d] · out[b, t, h, d]
// (flash-attention-2's D_i: the Σ_j P_ij·dP_ij term of the softmax backward, computed once per row).
//   out, dout [B, seq, H, D]; rowDot [B, H, seq] (the layout of lse). One thread per row.

const HEAD_DIM = 64u; // rewritten by attention.ts

struct Params { seq: u32, heads: u32, kvHeads: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> out: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowDot: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = (wg.y * nwg.x + wg.x) * 64u + lid; // = (b·H + h)·seq + t
  if (row >= arrayLength(&rowDot)) { return; }
  let t = row % p.seq;
  let bh = row / p.seq;
  let b = bh / p.heads;
  let h = bh % p.heads;
  let base = ((b * p.seq + t) * p.heads + h) * HEAD_DIM;
  var sum = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) { sum += dout[base + d] * out[base + d]; }
  rowDot[row] = sum;
}
