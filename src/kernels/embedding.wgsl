// Token embedding gather (+ GPT-2's learned positions): out[t, :] = table[ids[t], :] (+ positions[pos, :]),
// pos = posStart + t % seq. One workgroup per token, threads across the row.
// Tables are bound as raw u32 words so one source serves f32 and packed 16-bit weights (two halves per
// word, element 2i in the low half): f32 via bitcast, f16 via unpack2x16float, bf16 by a 16-bit shift.

override TABLE_DTYPE: u32 = 0u; // 0 f32, 1 f16, 2 bf16
override POS_DTYPE: u32 = 0u;

struct Params { tokens: u32, dim: u32, seq: u32, posStart: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;             // [tokens]
@group(0) @binding(2) var<storage, read> table: array<u32>;           // [vocab, dim], f32 or packed 16-bit
@group(0) @binding(3) var<storage, read_write> out: array<f32>;       // [tokens, dim]
@group(0) @binding(4) var<storage, read> positions: array<u32>;       // [maxPos, dim] (embed_pos only)

// Element e of a tensor stored as `dtype`, given the u32 word that holds it.
fn decode(word: u32, e: u32, dtype: u32) -> f32 {
  let high = (e & 1u) == 1u;
  if (dtype == 0u) { return bitcast<f32>(word); }
  if (dtype == 1u) {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, high);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}

fn wordIndex(e: u32, dtype: u32) -> u32 { return select(e >> 1u, e, dtype == 0u); }

fn tableAt(e: u32) -> f32 { return decode(table[wordIndex(e, TABLE_DTYPE)], e, TABLE_DTYPE); }
fn positionAt(e: u32) -> f32 { return decode(positions[wordIndex(e, POS_DTYPE)], e, POS_DTYPE); }

@compute @workgroup_size(WG)
fn embed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let t = flatGroup(wg, nwg);
  if (t >= p.tokens) { return; }
  let row = ids[t] * p.dim;
  for (var c = lid; c < p.dim; c += WG) {
    out[t * p.dim + c] = tableAt(row + c);
  }
}

@compute @workgroup_size(WG)
fn embed_pos(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let t = flatGroup(wg, nwg);
  if (t >= p.tokens) { return; }
  let row = ids[t] * p.dim;
  let posRow = (p.posStart + t % p.seq) * p.dim;
  for (var c = lid; c < p.dim; c += WG) {
    out[t * p.dim + c] = tableAt(row + c) + positionAt(posRow + c);
  }
}
