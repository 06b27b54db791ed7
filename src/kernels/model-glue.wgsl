// Glue between the model's fused and split tensors.
// GPT-2's c_attn writes q, k, v side by side in one row: qkv [rows, 3C]. Attention wants three tensors.
//   split:  qkv [rows, a+b+c] → q [rows, a], k [rows, b], v [rows, c]      (forward)
//   merge:  q, k, v → qkv                                                  (backward: dqkv from dq, dk, dv)
// One thread per element of the fused row-major tensor.

struct Params { rows: u32, a: u32, b: u32, c: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> fused: array<f32>;
@group(0) @binding(2) var<storage, read_write> part0: array<f32>;
@group(0) @binding(3) var<storage, read_write> part1: array<f32>;
@group(0) @binding(4) var<storage, read_write> part2: array<f32>;

override SPLIT: bool = true;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let width = p.a + p.b + p.c;
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows * width) { return; }
  let row = i / width;
  let col = i % width;
  if (col < p.a) {
    let j = row * p.a + col;
    if (SPLIT) { part0[j] = fused[i]; } else { fused[i] = part0[j]; }
  } else if (col < p.a + p.b) {
    let j = row * p.b + col - p.a;
    if (SPLIT) { part1[j] = fused[i]; } else { fused[i] = part1[j]; }
  } else {
    let j = row * p.c + col - p.a - p.b;
    if (SPLIT) { part2[j] = fused[i]; } else { fused[i] = part2[j]; }
  }
}
