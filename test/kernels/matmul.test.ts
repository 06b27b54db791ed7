import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul';
import { matmulRef } from '../reference/matmul';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 127, 33],
  [300, 257, 129],
];
const forms = [
  { transA: false, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: false },
  { transA: true, transB: true },
];

describe('matmul', () => {
  for (const [M, N, K] of shapes)
    for (const f of forms) {
      const name = `${M}×${N}×${K} ${f.transA ? 'Aᵀ' : 'A'}·${f.transB ? 'Bᵀ' : 'B'}`;
      it(name, async () => {
        const gpu = await testGpu();
        const seed = freshSeed();
        const A = randn(M * K, seed);
        const B = randn(K * N, seed + 1);
        const a = gpu.buffer(A.byteLength, 'A', A);
        const b = gpu.buffer(B.byteLength, 'B', B);
        const c = gpu.buffer(M * N * 4, 'C');
        gpu.fill(c, POISON);
        const step = gpu.step();
        await matmul(gpu, step, { M, N, K, ...f, alpha: 0.75 }, a, b, c);
        step.submit();
        const got = await gpu.readF32(c);
        const want = matmulRef(A, B, M, N, K, { ...f, alpha: 0.75 });
        expect(relL2(got, want), `seed ${seed}`).toBeLessThan(1e-5);
      });
    }

  it('accumulates into C', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const [M, N, K] = [33, 17, 70];
    const A = randn(M * K, seed), B = randn(N * K, seed + 1), C0 = randn(M * N, seed + 2);
    const c = gpu.buffer(M * N * 4, 'C', C0);
    const step = gpu.step();
    await matmul(gpu, step, { M, N, K, transB: true, accumulate: true }, gpu.buffer(A.byteLength, 'A', A), gpu.buffer(B.byteLength, 'B', B), c);
    step.submit();
    expect(relL2(await gpu.readF32(c), matmulRef(A, B, M, N, K, { transB: true, C0 })), `seed ${seed}`).toBeLessThan(1e-5);
  });
});
