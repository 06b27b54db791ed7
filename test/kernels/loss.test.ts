import { describe, expect, it } from 'vitest';
import { crossEntropy, reduceSum } from '../../src/kernels/loss';
import { crossEntropyRef } from '../reference/loss';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { fdGrad } from '../helpers/fd';
import type { Gpu } from '../../src/engine/gpu/runtime';

const buffer = (gpu: Gpu, d: ArrayBufferView, label: string) => gpu.buffer(d.byteLength, label, d);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

// vocab 301: scalar lanes, each thread loops twice; 1036: vec4 lanes (259 per row, also > 256).
for (const vocab of [301, 1036]) {
  describe(`crossEntropy vocab ${vocab}`, () => {
    it('loss, in-place gradient, ignored rows, reduceSum', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const rows = 7;
      // large logits: a naive exp would overflow f32; a shifted max in the last lane tests the vec4 lanes
      const X = randn(rows * vocab, seed, 30);
      X[2 * vocab + vocab - 1] = 80;
      const labels = Int32Array.from([3, -100, vocab - 1, 0, 17, -100, (seed % vocab)]);
      const nLabels = labels.filter((l) => l >= 0).length;
      const scale = 1 / nLabels;
      const logits = buffer(gpu, X, 'logits');
      const rowLoss = gpu.buffer(rows * 4, 'rowLoss');
      const total = gpu.buffer(4, 'total');
      gpu.fill(rowLoss, POISON);
      gpu.fill(total, POISON);
      const step = gpu.step();
      await crossEntropy(gpu, step, { rows, vocab }, logits, buffer(gpu, labels, 'labels'), buffer(gpu, Float32Array.of(scale), 'scale'), rowLoss);
      await reduceSum(gpu, step, { n: rows }, rowLoss, total);
      step.submit();
      const ref = crossEntropyRef(X, labels, rows, vocab, scale);
      const gotLoss = await gpu.readF32(rowLoss);
      expect(relL2(gotLoss, ref.rowLoss), `rowLoss seed ${seed}`).toBeLessThan(1e-5);
      expect(gotLoss[1]).toBe(0);
      expect(relL2(await gpu.readF32(total), [sum(ref.rowLoss)]), `total seed ${seed}`).toBeLessThan(1e-5);
      const grad = await gpu.readF32(logits);
      expect(relL2(grad, ref.dlogits), `dlogits seed ${seed}`).toBeLessThan(1e-5);
      expect(grad.subarray(vocab, 2 * vocab).every((g) => g === 0)).toBe(true);
      if (vocab < 500) {
        // the gradient of the summed loss, by finite differences of the float64 forward
        const fd = fdGrad((x) => sum(crossEntropyRef(x, labels, rows, vocab, scale).rowLoss), X);
        expect(relL2(ref.dlogits, fd), `fd seed ${seed}`).toBeLessThan(1e-6);
      }
    });
  });
}

describe('reduceSum', () => {
  for (const n of [1, 7, 1037, 4100])
    it(`n ${n}, overwrite and accumulate`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const X = randn(n, seed);
      const src = buffer(gpu, X, 'src');
      const dst = gpu.buffer(4, 'dst');
      gpu.fill(dst, POISON);
      const acc = buffer(gpu, Float32Array.of(2.5), 'acc');
      const step = gpu.step();
      await reduceSum(gpu, step, { n }, src, dst);
      await reduceSum(gpu, step, { n, accumulate: true }, src, acc);
      step.submit();
      expect(relL2(await gpu.readF32(dst), [sum(X)]), `seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(acc), [sum(X) + 2.5]), `seed ${seed}`).toBeLessThan(1e-5);
    });
});
