// Rotary position embedding, in place, rotate_half convention (Llama, Qwen2, HF transformers):
// for each (token, head) and i < D/2, the pair (x[i], x[i + D/2]) rotates by angle θ(pos, i):
//   x[i]       ← x[i]·cos − x[i + D/2]·sin
//   x[i + D/2] ← x[i + D/2]·cos + x[i]·sin
// INVERSE rotates by −θ: the rotation's transpose, which is exactly its backward (dx = Rᵀ·dy).
// x [B, T, H, D] viewed as rows = B·T·H of D floats; table = cos [maxSeq, D/2] then sin [maxSeq, D/2].
// One thread per V element of the first half of a row (V = vec4 when D/2 is a multiple of 4).

override INVERSE: bool = false;

struct Params {
  total: u32,     // rows · halfV threads
  halfV: u32,     // D / 2 / W
  heads: u32,
  seq: u32,
  posStart: u32,  // position of t = 0
  sinOffsetV: u32, // maxSeq · halfV: where the sin half of the table starts
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<V>;
@group(0) @binding(2) var<storage, read> table: array<V>;

@compute @workgroup_size(WG)
fn rope(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let j = flatGroup(wg, nwg) * WG + lid;
  if (j >= p.total) { return; }
  let row = j / p.halfV;          // (b, t, h) flattened
  let i = j - row * p.halfV;      // pair index within the head, in V units
  let t = (row / p.heads) % p.seq;
  let at = (p.posStart + t) * p.halfV + i;
  let c = table[at];
  var s = table[p.sinOffsetV + at];
  if (INVERSE) { s = -s; }
  let lo = row * 2u * p.halfV + i;
  let hi = lo + p.halfV;
  let x1 = x[lo];
  let x2 = x[hi];
  x[lo] = x1 * c - x2 * s;
  x[hi] = x2 * c + x1 * s;
}
