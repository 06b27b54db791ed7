import { describe, expect, it } from 'vitest';
import { AdamW } from '../../src/engine/train/optimizer';
import type { AdapterParam } from '../../src/engine/adapters/types';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';

// float64 reference: torch.nn.utils.clip_grad_norm_ over all grads, then torch.optim.AdamW (foreach=False):
//   p *= 1 − lr·wd;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  p −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
function referenceSteps(
  p0: Float32Array[], grads: Float32Array[][], lrs: number[], groupScale: number[],
  o: { beta1: number; beta2: number; eps: number; wd: number; maxGradNorm: number },
): Float64Array[] {
  const p = p0.map((x) => Float64Array.from(x));
  const m = p0.map((x) => new Float64Array(x.length));
  const v = p0.map((x) => new Float64Array(x.length));
  grads.forEach((gs, s) => {
    const t = s + 1;
    let sq = 0;
    for (const g of gs) for (const x of g) sq += x * x;
    const coef = o.maxGradNorm > 0 ? Math.min(1, o.maxGradNorm / (Math.sqrt(sq) + 1e-6)) : 1;
    p.forEach((pi, i) => {
      const lr = lrs[s] * groupScale[i];
      const bc1 = 1 - o.beta1 ** t, bc2 = 1 - o.beta2 ** t;
      for (let j = 0; j < pi.length; j++) {
        const g = gs[i][j] * coef;
        pi[j] *= 1 - lr * o.wd;
        m[i][j] = o.beta1 * m[i][j] + (1 - o.beta1) * g;
        v[i][j] = o.beta2 * v[i][j] + (1 - o.beta2) * g * g;
        pi[j] -= (lr / bc1) * m[i][j] / (Math.sqrt(v[i][j]) / Math.sqrt(bc2) + o.eps);
      }
    });
  });
  return p;
}

describe('AdamW over adapter params (global clip, per-group lr)', () => {
  for (const maxGradNorm of [0, 0.3])
    it(`3 steps, maxGradNorm ${maxGradNorm}, groups A ×1 / B ×4, one frozen param untouched`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const sizes = [37, 128, 5, 64, 12];
      const groups = ['A', 'B', 'B', 'B', 'A'];
      const p0 = sizes.map((n, i) => randn(n, seed + i, 0.5));
      const params: AdapterParam[] = sizes.map((n, i) => ({
        name: `p${i}`, shape: [n], group: groups[i],
        buffer: gpu.buffer(n * 4, `p${i}`, p0[i]), grad: gpu.buffer(n * 4, `g${i}`),
      }));
      const frozenInit = randn(11, seed + 9);
      const frozen: AdapterParam = { name: 'frozen', shape: [11], buffer: gpu.buffer(44, 'frozen', frozenInit), grad: null };
      const o = { beta1: 0.9, beta2: 0.99, eps: 1e-6, wd: 0.05, maxGradNorm };
      const opt = new AdamW(gpu, [...params, frozen], { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.wd, maxGradNorm, groups: { B: { lrScale: 4 } } });
      expect(opt.size).toBe(37 + 128 + 5 + 64 + 12);
      const lrs = [1e-2, 5e-3, 2e-3];
      const grads: Float32Array[][] = [];
      for (let s = 0; s < 3; s++) {
        const gs = sizes.map((n, i) => randn(n, seed + 100 * (s + 1) + i, 1));
        grads.push(gs);
        gs.forEach((g, i) => gpu.upload(params[i].grad!, g));
        const step = gpu.step();
        await opt.record(step, lrs[s]);
        step.submit();
      }
      const want = referenceSteps(p0, grads, lrs, groups.map((g) => (g === 'B' ? 4 : 1)), o);
      for (let i = 0; i < sizes.length; i++) {
        const got = await gpu.readF32(params[i].buffer);
        // compare the UPDATE (p − p0): the parameters themselves would hide small errors
        const dGot = got.map((x, j) => x - p0[i][j]);
        const dWant = want[i].map((x, j) => x - p0[i][j]);
        expect(relL2(dGot, dWant), `param ${i} seed ${seed}`).toBeLessThan(1e-4);
      }
      expect(Array.from(await gpu.readF32(frozen.buffer))).toEqual(Array.from(frozenInit));
      // the norm² buffer holds the last step's Σg² (before clipping)
      let sq = 0;
      for (const g of grads[2]) for (const x of g) sq += x * x;
      expect(Math.abs((await gpu.readF32(opt.normSq))[0] - sq) / sq).toBeLessThan(1e-5);
    });

  it('rejects nothing silently: a poisoned grad makes the params NaN (no hidden skip)', async () => {
    const gpu = await testGpu();
    const p: AdapterParam = { name: 'p', shape: [3], buffer: gpu.buffer(12, 'p', new Float32Array([1, 2, 3])), grad: gpu.buffer(12, 'g') };
    gpu.fill(p.grad!, POISON);
    const opt = new AdamW(gpu, [p], {});
    const step = gpu.step();
    await opt.record(step, 1e-3);
    step.submit();
    expect((await gpu.readF32(p.buffer)).every((x) => Number.isNaN(x))).toBe(true);
  });
});
