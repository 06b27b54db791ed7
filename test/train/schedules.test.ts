import { describe, expect, it } from 'vitest';
import { lrAtStep, lrLambda } from '../../src/engine/train/schedules';

// Values computed by hand from transformers' optimization.py formulas (and cross-checked with
// torch.optim.lr_scheduler.LambdaLR semantics: step k of training uses λ(k − 1)).
describe('lr schedules (transformers get_*_schedule_with_warmup)', () => {
  it('constant with warmup', () => {
    const o = { name: 'constant' as const, warmup: 4, total: 10 };
    expect([0, 1, 2, 3, 4, 5, 9, 10].map((s) => lrLambda(o, s))).toEqual([0, 0.25, 0.5, 0.75, 1, 1, 1, 1]);
    expect(lrLambda({ name: 'constant', warmup: 0, total: 10 }, 0)).toBe(1);
  });

  it('linear with warmup', () => {
    const o = { name: 'linear' as const, warmup: 2, total: 6 };
    // warmup 0/2, 1/2; then (6 − s)/4
    const want = [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0];
    [0, 1, 2, 3, 4, 5, 6, 7].forEach((s, i) => expect(lrLambda(o, s)).toBeCloseTo(want[i], 15));
    // no warmup: (total − s)/total
    expect(lrLambda({ name: 'linear', warmup: 0, total: 8 }, 0)).toBe(1);
    expect(lrLambda({ name: 'linear', warmup: 0, total: 8 }, 3)).toBe(5 / 8);
    // the HF Trainer: optimizer step 1 runs at λ(0) = 0 when warmup > 0
    expect(lrAtStep(1e-3, o, 1)).toBe(0);
    expect(lrAtStep(1e-3, o, 3)).toBeCloseTo(1e-3, 18);
    expect(lrAtStep(1e-3, o, 4)).toBeCloseTo(7.5e-4, 18);
  });

  it('cosine with warmup', () => {
    const o = { name: 'cosine' as const, warmup: 1, total: 5 };
    // progress = (s − 1)/4; λ = ½(1 + cos(π·progress))
    const want = [0, 1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2), 0];
    [0, 1, 2, 3, 4, 5].forEach((s, i) => expect(lrLambda(o, s)).toBeCloseTo(want[i], 15));
    // beyond the end the cosine would rise again with numCycles 0.5 · 2 · progress > 1: clamped ≥ 0 but not flat,
    // exactly as transformers does (it does not clamp progress)
    expect(lrLambda(o, 6)).toBeCloseTo(0.5 * (1 - Math.SQRT1_2), 15);
    expect(lrLambda(o, 7)).toBeCloseTo(0.5, 15);
  });

  it('rejects an unknown schedule', () => {
    expect(() => lrLambda({ name: 'step' as any, warmup: 0, total: 3 }, 1)).toThrow(/unknown schedule/);
  });
});
