import { describe, expect, it } from 'vitest';
import { mergeColumns, splitColumns } from '../../src/kernels/model-glue';
import { POISON, freshSeed, randn, testGpu } from '../helpers/gpu';

describe('model-glue split/merge of fused q|k|v', () => {
  for (const [rows, a, b, c] of [[1, 1, 2, 3], [7, 12, 5, 5], [33, 24, 24, 24]]) {
    it(`${rows} rows, widths ${a},${b},${c}`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const W = a + b + c;
      const fused = randn(rows * W, seed);
      const f = gpu.buffer(fused.byteLength, 'fused', fused);
      const parts = [a, b, c].map((w) => gpu.buffer(rows * w * 4, 'part'));
      parts.forEach((p) => gpu.fill(p, POISON));
      let step = gpu.step();
      await splitColumns(gpu, step, { rows, widths: [a, b, c] }, f, parts[0], parts[1], parts[2]);
      step.submit();
      const widths = [a, b, c];
      const offsets = [0, a, a + b];
      for (let k = 0; k < 3; k++) {
        const got = await gpu.readF32(parts[k], rows * widths[k]);
        const want = new Float32Array(rows * widths[k]);
        for (let r = 0; r < rows; r++) for (let j = 0; j < widths[k]; j++) want[r * widths[k] + j] = fused[r * W + offsets[k] + j];
        expect(Array.from(got), `part ${k} seed ${seed}`).toEqual(Array.from(want));
      }
      // merge back into a poisoned buffer gives the original exactly
      const back = gpu.buffer(fused.byteLength, 'back');
      gpu.fill(back, POISON);
      step = gpu.step();
      await mergeColumns(gpu, step, { rows, widths: [a, b, c] }, parts[0], parts[1], parts[2], back);
      step.submit();
      expect(Array.from(await gpu.readF32(back, rows * W)), `seed ${seed}`).toEqual(Array.from(fused));
    });
  }
});
