import { describe, expect, it } from 'vitest';
import { rope, ropeInvFreq, ropeTable } from '../../src/kernels/rope';
import { invFreqRef, ropeRef } from '../reference/rope';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dot, fdGrad } from '../helpers/fd';

const llama3 = { rope_type: 'llama3' as const, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };

describe('ropeTable', () => {
  it('default inv_freq and cos/sin match float64', () => {
    const [D, maxSeq, theta] = [64, 50, 10000];
    expect(relL2(ropeInvFreq(D, theta), invFreqRef(D, theta))).toBeLessThan(1e-6);
    const table = ropeTable(D, maxSeq, theta);
    expect(table.length).toBe(maxSeq * D);
    const inv = invFreqRef(D, theta);
    const want = new Float64Array(maxSeq * D);
    for (let p = 0; p < maxSeq; p++)
      for (let i = 0; i < D / 2; i++) {
        want[p * (D / 2) + i] = Math.cos(p * inv[i]);
        want[(maxSeq + p) * (D / 2) + i] = Math.sin(p * inv[i]);
      }
    expect(relL2(table, want)).toBeLessThan(1e-6);
    expect(table[0]).toBe(1); // cos 0
    expect(table[maxSeq * (D / 2)]).toBe(0); // sin 0
  });

  it('llama3 scaling: all three bands, as transformers computes them', () => {
    // Llama 3.1 8B: head_dim 128, rope_theta 500000, factor 8, low 1, high 4, original 8192
    const [D, theta] = [128, 500000];
    const got = ropeInvFreq(D, theta, llama3);
    const want = invFreqRef(D, theta, llama3);
    expect(relL2(got, want)).toBeLessThan(1e-6);
    const plain = invFreqRef(D, theta);
    let high = 0, low = 0, medium = 0;
    for (let i = 0; i < D / 2; i++) {
      const ratio = plain[i] / got[i];
      if (Math.abs(ratio - 1) < 1e-6) high++;
      else if (Math.abs(ratio - 8) < 1e-5) low++;
      else {
        medium++;
        expect(ratio).toBeGreaterThan(1);
        expect(ratio).toBeLessThan(8);
      }
    }
    expect(high).toBeGreaterThan(0);
    expect(low).toBeGreaterThan(0);
    expect(medium).toBeGreaterThan(0);
    // the table uses the scaled frequencies
    const table = ropeTable(D, 3, theta, llama3);
    expect(table[1 * (D / 2) + D / 2 - 1]).toBeCloseTo(Math.cos(want[D / 2 - 1]), 7);
    expect(() => ropeInvFreq(D, theta, { rope_type: 'yarn' })).toThrow(/yarn/);
    expect(relL2(ropeInvFreq(D, theta, { rope_type: 'default' }), plain)).toBeLessThan(1e-6);
  });
});

// D = 10: D/2 = 5, scalar path; D = 16: vec4 path.
for (const headDim of [10, 16]) {
  describe(`rope kernel D ${headDim}`, () => {
    const [batch, seq, heads, maxSeq] = [2, 5, 3, 11];
    for (const posStart of [0, 4])
      it(`forward, inverse and round trip, posStart ${posStart}`, async () => {
        const gpu = await testGpu();
        const seed = freshSeed();
        const n = batch * seq * heads * headDim;
        const shape = { batch, seq, heads, headDim, posStart };
        const table = ropeTable(headDim, maxSeq, 100, posStart ? llama3 : null);
        const tbl = gpu.buffer(table.byteLength, 'table', table);
        const X = randn(n, seed), DY = randn(n, seed + 1);
        const x = gpu.buffer(n * 4, 'x', X), dy = gpu.buffer(n * 4, 'dy', DY), rt = gpu.buffer(n * 4, 'rt', X);
        const step = gpu.step();
        await rope(gpu, step, shape, x, tbl);
        await rope(gpu, step, { ...shape, inverse: true }, dy, tbl);
        await rope(gpu, step, shape, rt, tbl);
        await rope(gpu, step, { ...shape, inverse: true }, rt, tbl);
        step.submit();
        const want = ropeRef(X, table, maxSeq, shape);
        expect(relL2(await gpu.readF32(x), want), `forward seed ${seed}`).toBeLessThan(1e-5);
        const dxRef = ropeRef(DY, table, maxSeq, { ...shape, inverse: true });
        expect(relL2(await gpu.readF32(dy), dxRef), `inverse seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(await gpu.readF32(rt), X), `round trip seed ${seed}`).toBeLessThan(1e-5);
        // the inverse is the backward: ∇ₓ Σ dy·rope(x)
        const fd = fdGrad((xx) => dot(DY, ropeRef(xx, table, maxSeq, shape)), X);
        expect(relL2(dxRef, fd), `fd seed ${seed}`).toBeLessThan(1e-6);
      });
  });
}

describe('rope guards', () => {
  it('refuses positions beyond the table', async () => {
    const gpu = await testGpu();
    const table = ropeTable(8, 4, 10000);
    const tbl = gpu.buffer(table.byteLength, 'table', table);
    const x = gpu.buffer(4 * 8 * 4, 'x');
    await expect(rope(gpu, gpu.step(), { batch: 1, seq: 4, heads: 1, headDim: 8, posStart: 1 }, x, tbl)).rejects.toThrow(/table/);
  });
});
