// AdaLoraModule's forward and backward (y += s·(E ⊙ x·Aᵀ)·Bᵀ) vs a float64 reference and vs central finite differences
// of that forward, odd shapes, gradients poisoned before the overwriting call and then accumulated; plus the pure
// pieces of the RankAllocator (PEFT's budget schedule, kthvalue) and the PEFT file round trip with truncation.
import { describe, expect, it } from 'vitest';
import { AdaLoraModule, gaussian } from '../../src/engine/adapters/adalora';
import { budgetSchedule, kthSmallest } from '../../src/engine/adapters/adalora-allocator';
import { parseAdaLoraAdapter, serializeAdaLoraAdapter, type AdaLoraConfig } from '../../src/engine/io/peft-adalora';
import type { LinearInfo } from '../../src/engine/adapters/types';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dot, fdGrad } from '../helpers/fd';

const layer = (inDim: number, outDim: number): LinearInfo =>
  ({ name: 'model.layers.0.mlp.up_proj', shortName: 'up_proj', inDim, outDim, weight: null as unknown as GPUBuffer, weightType: 'f32', weightTransposed: true });

/** s·(E ⊙ (x·Aᵀ))·Bᵀ  [T, out] in f64 */
function lowRankRef(x: ArrayLike<number>, A: ArrayLike<number>, E: ArrayLike<number>, B: ArrayLike<number>, T: number, inDim: number, outDim: number, r: number, s: number) {
  const y = new Float64Array(T * outDim);
  for (let t = 0; t < T; t++) {
    const h = new Float64Array(r);
    for (let k = 0; k < r; k++) {
      let acc = 0;
      for (let i = 0; i < inDim; i++) acc += x[t * inDim + i] * A[k * inDim + i];
      h[k] = E[k] * acc;
    }
    for (let o = 0; o < outDim; o++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += h[k] * B[o * r + k];
      y[t * outDim + o] = s * acc;
    }
  }
  return y;
}

describe('AdaLoraModule', () => {
  it('forward, and backward (dx added, dA/dE/dB overwritten then accumulated) vs f64 and finite differences', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const [T, inDim, outDim, r, s] = [13, 37, 29, 5, 1.3];
    const x = randn(T * inDim, seed), A = randn(r * inDim, seed + 1, 0.5), E = randn(r, seed + 2), B = randn(outDim * r, seed + 3, 0.5);
    const y0 = randn(T * outDim, seed + 4), dy = randn(T * outDim, seed + 5), dx0 = randn(T * inDim, seed + 6);
    const m = new AdaLoraModule(gpu, layer(inDim, outDim), T + 3, r, s);
    m.setWeights(gpu, { A, E, B });
    const buf = (v: Float32Array, l: string) => gpu.buffer(v.byteLength, l, v);
    const [bx, by, bdy, bdx] = [buf(x, 'x'), buf(y0, 'y'), buf(dy, 'dy'), buf(dx0, 'dx')];
    for (const g of [m.gradA, m.gradE, m.gradB]) gpu.fill(g, POISON);
    let step = gpu.step();
    await m.forward(gpu, step, bx, by, T);
    const ret = await m.backward(gpu, step, bx, bdy, bdx, T, false);
    step.submit();
    expect(ret).toBe(bdy);
    const L = (xx: ArrayLike<number>, a: ArrayLike<number>, e: ArrayLike<number>, b: ArrayLike<number>) => dot(dy, lowRankRef(xx, a, e, b, T, inDim, outDim, r, s));
    const ref = lowRankRef(x, A, E, B, T, inDim, outDim, r, s);
    const want = {
      y: ref.map((v, i) => v + y0[i]),
      dx: fdGrad((v) => L(v, A, E, B), x).map((v, i) => v + dx0[i]),
      dA: fdGrad((v) => L(x, v, E, B), A),
      dE: fdGrad((v) => L(x, A, v, B), E),
      dB: fdGrad((v) => L(x, A, E, v), B),
    };
    const got = {
      y: await gpu.readF32(by, T * outDim), dx: await gpu.readF32(bdx, T * inDim),
      dA: await gpu.readF32(m.gradA, r * inDim), dE: await gpu.readF32(m.gradE, r), dB: await gpu.readF32(m.gradB, outDim * r),
    };
    for (const k of Object.keys(want) as (keyof typeof want)[]) expect(relL2(got[k], want[k]), `${k} (seed ${seed})`).toBeLessThan(1e-5);
    // a second micro-batch with accumulate: the parameter gradients double
    step = gpu.step();
    await m.forward(gpu, step, bx, by, T);
    await m.backward(gpu, step, bx, bdy, bdx, T, true);
    step.submit();
    expect(relL2(await gpu.readF32(m.gradA, r * inDim), want.dA.map((v) => 2 * v)), `dA accumulated (seed ${seed})`).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(m.gradE, r), want.dE.map((v) => 2 * v)), `dE accumulated (seed ${seed})`).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(m.gradB, outDim * r), want.dB.map((v) => 2 * v)), `dB accumulated (seed ${seed})`).toBeLessThan(1e-5);
  }, 120_000);
});

describe('RankAllocator pieces', () => {
  const sched = { targetR: 4, tinit: 1, tfinal: 1, deltaT: 1, totalStep: 6, beta1: 0.85, beta2: 0.85 };
  it("PEFT's budget_schedule: warmup, cubic decay (truncated), final; deltaT gates masking", () => {
    const got = [1, 2, 3, 4, 5, 6].map((t) => budgetSchedule(t, sched, 84, 56));
    expect(got).toEqual([
      { budget: 84, mask: false }, { budget: 67, mask: true }, { budget: 59, mask: true },
      { budget: 56, mask: true }, { budget: 56, mask: true }, { budget: 56, mask: true },
    ]);
    const s3 = { ...sched, deltaT: 3, totalStep: 20, tfinal: 2 };
    // t = 3: mul = 1 − 2/17, b = int(28·0.6871… + 56) = 75
    expect(budgetSchedule(3, s3, 84, 56)).toEqual({ budget: Math.trunc(28 * (1 - 2 / 17) ** 3 + 56), mask: true });
    expect(budgetSchedule(4, s3, 84, 56).mask).toBe(false);
    expect(budgetSchedule(19, s3, 84, 56)).toEqual({ budget: 56, mask: true });
  });

  it('kthvalue: the k-th smallest (1-based), −∞ for k = 0, an error past the end', () => {
    expect(kthSmallest([0.5, -1, 3, 0.25, 2], 2)).toBe(0.25);
    expect(kthSmallest([0.5, -1, 3], 1)).toBe(-1);
    expect(kthSmallest([1, 2], 0)).toBe(-Infinity);
    expect(() => kthSmallest([1, 2], 3)).toThrow(/cannot drop 3 of 2/);
  });

  it('N(0, 0.02) init: mean ≈ 0, std ≈ 0.02', () => {
    const g = gaussian(20001, 7, 0.02);
    const mean = g.reduce((a, v) => a + v, 0) / g.length;
    const std = Math.sqrt(g.reduce((a, v) => a + (v - mean) ** 2, 0) / g.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.0005);
  });
});

describe('PEFT ADALORA files', () => {
  const config: AdaLoraConfig = {
    initR: 3, targetR: 2, tinit: 0, tfinal: 0, deltaT: 1, beta1: 0.85, beta2: 0.85, orthRegWeight: 1, totalStep: 10, alpha: 8,
    targetModules: ['up_proj'], fanInFanOut: false, baseModel: 'm', rankPattern: null,
  };
  const A = Float32Array.from({ length: 3 * 4 }, (_, i) => i), E = Float32Array.from([10, 11, 12]), B = Float32Array.from({ length: 2 * 3 }, (_, i) => 100 + i);
  const layers = new Map([['model.layers.0.mlp.up_proj', { r: 3, inDim: 4, outDim: 2, A, E, B }]]);

  it('round trip without a pattern; with one, only the kept ranks are written and read back', () => {
    const full = serializeAdaLoraAdapter({ config, layers });
    const text = new TextDecoder().decode(full['adapter_config.json']);
    expect(text).toContain('"orth_reg_weight": 1.0,');
    expect(text).toContain('"peft_type": "ADALORA"');
    const back = parseAdaLoraAdapter(text, full['adapter_model.safetensors']);
    expect(back.layers.get('model.layers.0.mlp.up_proj')).toEqual({ r: 3, inDim: 4, outDim: 2, A, E, B });
    const rankPattern = { 'model.layers.0.mlp.up_proj.lora_E': [true, false, true] };
    const cut = serializeAdaLoraAdapter({ config: { ...config, rankPattern }, layers });
    const t = parseAdaLoraAdapter(new TextDecoder().decode(cut['adapter_config.json']), cut['adapter_model.safetensors']);
    expect(t.config.rankPattern).toEqual(rankPattern);
    expect(t.layers.get('model.layers.0.mlp.up_proj')).toEqual({
      r: 2, inDim: 4, outDim: 2, A: Float32Array.from([0, 1, 2, 3, 8, 9, 10, 11]), E: Float32Array.from([10, 12]), B: Float32Array.from([100, 102, 103, 105]),
    });
    // a pattern that disagrees with the tensors is an error, naming the module
    const bad = new TextEncoder().encode(new TextDecoder().decode(cut['adapter_config.json']).replace('"peft_type": "ADALORA"', '"peft_type": "LORA"'));
    expect(() => parseAdaLoraAdapter(new TextDecoder().decode(bad), cut['adapter_model.safetensors'])).toThrow(/not ADALORA/);
    expect(() => parseAdaLoraAdapter(new TextDecoder().decode(full['adapter_config.json']), cut['adapter_model.safetensors'])).toThrow(/up_proj has rank 2, but init_r is 3/);
  });
});
