// Attention forward, split mode's merge (flash-decoding): each of `splits` workgroups of a row attended to
// one chunk of the keys and left its normalised partial out_s and lse_s. The softmax over all keys is
//   lse = log Σ_s exp(lse_s),   out = Σ_s exp(lse_s − lse) · out_s
// (a chunk a row did not see has lse_s = −1e30 and weighs 0).
//   partOut [splits][B, seq, H, D], partLse [splits][B, H, seq] → out [B, seq, H, D], lse [B, H, seq]
// One thread per output element; the D threads of a row each redo the row's (short) loop over splits.

const HEAD_DIM = 64u; // rewritten by attention.ts

struct Params { elements: u32, seq: u32, heads: u32, splits: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partOut: array<f32>;
@group(0) @binding(2) var<storage, read> partLse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 64u + lid; // element of out: ((b·seq + t)·H + h)·D + d
  if (i >= p.elements) { return; }
  let d = i % HEAD_DIM;
  let row = i / HEAD_DIM;
  let h = row % p.heads;
  let bt = row / p.heads;
  let t = bt % p.seq;
  let b = bt / p.seq;
  let lseAt = (b * p.heads + h) * p.seq + t;
  let lseCount = p.elements / HEAD_DIM; // B·H·seq entries per slot

  var m = -1e30;
  for (var s = 0u; s < p.splits; s++) { m = max(m, partLse[s * lseCount + lseAt]); }
  var den = 0.0;
  var num = 0.0;
  for (var s = 0u; s < p.splits; s++) {
    let w = exp(partLse[s * lseCount + lseAt] - m);
    den += w;
    num += w * partOut[s * p.elements + i];
  }
  out[i] = num / den;
  if (d == 0u) { lse[lseAt] = m + log(den); }
}
