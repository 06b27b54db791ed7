// The dropout kernel against a float64 CPU reference of the same hash (test/reference/dropout.ts, written from the
// spec at the top of dropout.wgsl): exact masks, values within 1e-5, overwrite and accumulate, vec4 and scalar
// paths; the mask depends on the counter and the stream only; the keep rate is 1 − p; p = 0 is a copy.
import { describe, expect, it } from 'vitest';
import { dropout, dropoutStream } from '../../src/kernels/dropout';
import type { Gpu } from '../../src/engine/gpu/runtime';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dropoutRef, maskRef } from '../reference/dropout';

/** nonzero inputs, so a kept element is never read as dropped */
const nonzero = (n: number, seed: number) => randn(n, seed).map((v) => v + Math.sign(v || 1) * 0.05);

async function runKernel(gpu: Gpu, x: Float32Array, p: number, stream: number, c: number, dst0?: Float32Array) {
  const n = x.length;
  const src = gpu.buffer(x.byteLength, 'src', x);
  const dst = gpu.buffer(x.byteLength, 'dst', dst0);
  if (!dst0) gpu.fill(dst, POISON);
  const counter = gpu.buffer(4, 'counter', new Uint32Array([c]));
  const step = gpu.step();
  await dropout(gpu, step, { n, p, stream, accumulate: !!dst0 }, counter, src, dst);
  step.submit();
  return gpu.readF32(dst, n);
}

describe('dropout kernel vs float64 reference', () => {
  // 259, 1037: scalar path over 2 and 5 workgroups; 1036: vec4 path
  for (const n of [259, 1036, 1037])
    for (const p of [0.1, 0.5, 0.9])
      it(`n ${n}, p ${p}: exact mask, values, accumulate`, async () => {
        const gpu = await testGpu();
        const seed = freshSeed();
        const x = nonzero(n, seed), dst0 = randn(n, seed + 1);
        const stream = dropoutStream(seed, 'model.layers.3.self_attn.q_proj'), c = (seed % 1000) + 1;
        const keep = maskRef(n, p, stream, c);
        const got = await runKernel(gpu, x, p, stream, c);
        const gotKeep = Uint8Array.from(got, (v) => (v !== 0 ? 1 : 0));
        expect(gotKeep, `mask seed ${seed}`).toEqual(keep);
        expect(relL2(got, dropoutRef(x, keep, p)), `values seed ${seed}`).toBeLessThan(1e-5);
        const acc = await runKernel(gpu, x, p, stream, c, dst0);
        expect(relL2(acc, dropoutRef(x, keep, p, dst0)), `accumulate seed ${seed}`).toBeLessThan(1e-5);
      });

  it('the same (stream, counter) regenerates the mask; another counter or stream draws another', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const n = 4099, p = 0.3, x = nonzero(n, seed);
    const s1 = dropoutStream(seed, 'a.q_proj'), s2 = dropoutStream(seed, 'a.v_proj'), s3 = dropoutStream(seed + 1, 'a.q_proj');
    const bits = async (stream: number, c: number) => Uint8Array.from(await runKernel(gpu, x, p, stream, c), (v) => (v !== 0 ? 1 : 0));
    const base = await bits(s1, 7);
    expect(await bits(s1, 7)).toEqual(base);
    for (const other of [await bits(s1, 8), await bits(s2, 7), await bits(s3, 7)]) {
      // independent masks agree on a fraction p² + (1−p)² = 0.58 of elements (σ ≈ 0.008 at n = 4099)
      const agree = other.reduce((a, v, i) => a + (v === base[i] ? 1 : 0), 0) / n;
      expect(Math.abs(agree - (p * p + (1 - p) * (1 - p))), `seed ${seed}`).toBeLessThan(0.05);
    }
  });

  it('keeps a fraction 1 − p, scaled so the mean is unchanged (inverted dropout)', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const n = 200_003, ones = new Float32Array(n).fill(1);
    for (const p of [0.05, 0.1, 0.5, 0.9]) {
      const got = await runKernel(gpu, ones, p, dropoutStream(seed, 'layer'), 1 + (seed % 97));
      const kept = got.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
      const sigma = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(kept / n - (1 - p)), `p ${p} seed ${seed}`).toBeLessThan(5 * sigma);
      const mean = got.reduce((a, v) => a + v, 0) / n;
      expect(Math.abs(mean - 1), `mean p ${p} seed ${seed}`).toBeLessThan(5 * sigma / (1 - p));
      expect(got.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6)).toBe(true);
    }
  });

  it('p = 0 is an exact copy', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const x = randn(1037, seed);
    expect(await runKernel(gpu, x, 0, 12345, 3)).toEqual(x);
  });
});
