// C[M, N] (+)= alpha · op(A)[M, K] · op(B)[K, N]
//   op(A) = A  stored [M, K]   or  Aᵀ stored [K, M]  (TRANS_A)
//   op(B) = B  stored [K, N]   or  Bᵀ stored [N, K]  (TRANS_B)   — x·Wᵀ for a PyTorch Linear is TRANS_B
// 64×64 output tile per workgroup, 16×16 threads, 4×4 outputs each; K walked in slabs of 16.
// Shared tiles are k-major vec4 rows so each thread's inner step is 2 vec4 loads for 16 FMAs.
// Edges: loads outside the matrix read 0, stores outside are skipped, so any M, N, K works.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false; // C += alpha·A·B instead of C = alpha·A·B

struct Params { M: u32, N: u32, K: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

const BM = 64u;
const BN = 64u;
const BK = 16u;

var<workgroup> As: array<vec4<f32>, 256>; // [BK][BM/4]
var<workgroup> Bs: array<vec4<f32>, 256>; // [BK][BN/4]

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return A[k * p.M + m]; }
  return A[m * p.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return B[n * p.K + k]; }
  return B[k * p.N + n];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.y * 16u + lid.x;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc: array<vec4<f32>, 4>;

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // 1024 elements per tile, 4 per thread. The index order follows the stored layout so that
    // neighbouring threads read neighbouring addresses.
    for (var l = 0u; l < 4u; l++) {
      let i = t + l * 256u;
      var m: u32; var ka: u32;
      if (TRANS_A) { m = i % BM; ka = i / BM; } else { ka = i % BK; m = i / BK; }
      As[ka * 16u + m / 4u][m % 4u] = loadA(row0 + m, k0 + ka);
      var n: u32; var kb: u32;
      if (TRANS_B) { kb = i % BK; n = i / BK; } else { n = i % BN; kb = i / BN; }
      Bs[kb * 16u + n / 4u][n % 4u] = loadB(k0 + kb, col0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * 16u + lid.y];
      let b = Bs[k * 16u + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid.y * 4u + i;
    if (r >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid.x * 4u + j;
      if (c < p.N) {
        let v = p.alpha * acc[i][j];
        if (ACCUMULATE) { C[r * p.N + c] += v; } else { C[r * p.N + c] = v; }
      }
    }
  }
}
