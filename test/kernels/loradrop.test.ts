// LoRA-drop's importance kernel vs a float64 reference: rowSq[t] = w[t]·‖s·B·xa_t‖², odd shapes (out below, at and
// past the 64-thread stride), zero and fractional row weights, outputs poisoned; then the per-layer sum the method
// accumulates with reduceSum over several batches.
import { describe, expect, it } from 'vitest';
import { lowRankRowSumSq } from '../../src/kernels/loradrop';
import { reduceSum } from '../../src/kernels/loss';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';

/** f64: w[t] · Σ_o (s · Σ_k B[o,k]·xa[t,k])² */
function rowSqRef(xa: Float32Array, B: Float32Array, w: Float32Array, T: number, out: number, r: number, s: number): Float64Array {
  const y = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let acc = 0;
    for (let o = 0; o < out; o++) {
      let z = 0;
      for (let k = 0; k < r; k++) z += B[o * r + k] * xa[t * r + k];
      acc += (s * z) ** 2;
    }
    y[t] = w[t] * acc;
  }
  return y;
}

const cases = [
  { T: 13, out: 29, r: 3, s: 0.7 },
  { T: 301, out: 131, r: 5, s: 2 },
  { T: 7, out: 64, r: 1, s: 1.3 },
];

describe('loradrop importance kernel', () => {
  for (const c of cases)
    it(`row sums of squares T=${c.T} out=${c.out} r=${c.r}, and their accumulated total`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const xa = randn(c.T * c.r, seed), B = randn(c.out * c.r, seed + 1);
      // row weights: 0 (padding), 1 (counted) and a few fractional ones
      const w = randn(c.T, seed + 2).map((u, t) => (t % 5 === 4 ? 0 : u > 0.5 ? 0.5 + u / 4 : 1));
      const buf = (a: Float32Array, l: string) => gpu.buffer(a.byteLength, l, a);
      const rowSq = gpu.buffer(c.T * 4, 'rowSq');
      gpu.fill(rowSq, POISON);
      const prior = 0.37;
      const total = buf(new Float32Array([prior]), 'total');
      const step = gpu.step();
      await lowRankRowSumSq(gpu, step, { tokens: c.T, outDim: c.out, rank: c.r, scale: c.s }, buf(xa, 'xa'), buf(B, 'B'), buf(w, 'w'), rowSq);
      await reduceSum(gpu, step, { n: c.T, accumulate: true }, rowSq, total);
      await reduceSum(gpu, step, { n: c.T, accumulate: true }, rowSq, total);
      step.submit();
      const ref = rowSqRef(xa, B, w, c.T, c.out, c.r, c.s);
      const got = await gpu.readF32(rowSq, c.T);
      expect(relL2(got, ref), `rowSq (seed ${seed})`).toBeLessThan(1e-5);
      for (let t = 0; t < c.T; t++) if (w[t] === 0) expect(got[t], `padding row ${t}`).toBe(0);
      const want = prior + 2 * ref.reduce((a, b) => a + b, 0);
      expect(relL2(await gpu.readF32(total, 1), [want]), `total (seed ${seed})`).toBeLessThan(1e-5);
    }, 60_000);
});
