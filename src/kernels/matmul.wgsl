// Split-K reduction for the matmul family (the tiled kernels themselves are generated in matmul.ts):
//   C[i] (+)= alpha · Σ_s S[s, i]      S [splits, M·N] partial products, one per K range
// Summed in split order, so the result is deterministic.

override ACCUMULATE: bool = false; // C += … instead of C = …

struct Params { count: u32, splits: u32, rowStride: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // 2-D grid when count exceeds 65535 workgroups of 256: rowStride = invocations per grid row
  let i = gid.y * p.rowStride + gid.x;
  if (i >= p.count) { return; }
  var sum = 0.0;
  for (var s = 0u; s < p.splits; s++) { sum += S[s * p.count + i]; }
  let v = p.alpha * sum;
  if (ACCUMULATE) { C[i] += v; } else { C[i] = v; }
}
