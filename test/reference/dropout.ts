// float64 CPU reference of src/kernels/dropout.wgsl, written from its spec (not imported from it):
//   key = pcg(stream ^ pcg(c));  keep[e] = (pcg(pcg(e) ^ key) >> 8) ≥ ⌈p·2²⁴⌉;  out = keep ? x/(1 − p) : 0
// pcg: Jarzynski & Olano's PCG hash on u32.

export function pcg(v: number): number {
  const s = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** keep[e] (1 or 0) for elements 0..n-1 of counter c on `stream` */
export function maskRef(n: number, p: number, stream: number, c: number): Uint8Array {
  const key = pcg((stream ^ pcg(c)) >>> 0);
  const threshold = Math.ceil(p * 2 ** 24);
  const keep = new Uint8Array(n);
  for (let e = 0; e < n; e++) keep[e] = pcg((pcg(e) ^ key) >>> 0) >>> 8 >= threshold ? 1 : 0;
  return keep;
}

/** dst0 + keep ⊙ x / (1 − p) */
export function dropoutRef(x: ArrayLike<number>, keep: Uint8Array, p: number, dst0?: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (dst0 ? dst0[i] : 0) + (keep[i] ? v / (1 - p) : 0));
}
