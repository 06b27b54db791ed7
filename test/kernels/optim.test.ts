import { describe, expect, it } from 'vitest';
import { adamw, adamwHyper, adamwHyperBytes, adamwMany, gradNormSquared } from '../../src/kernels/optim';
import { adamwRefInit, adamwRefStep, type AdamwRefHyper } from '../reference/optim';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import type { Gpu } from '../../src/engine/gpu/runtime';

const buffer = (gpu: Gpu, d: ArrayBufferView, label: string) => gpu.buffer(d.byteLength, label, d);

describe('gradNormSquared', () => {
  // 37: scalar; 1036: vec4; 20001: scalar over 10 workgroups; 16388: vec4 over 2; then eleven more vec4
  // tensors so the 8-per-dispatch batches run full and partial.
  const sizes = [37, 1036, 20001, 16388, 1, ...Array.from({ length: 11 }, (_, k) => 4 * (k + 1) + 8)];
  for (const perTensor of [false, true])
    it(`sums squares over tensors of both lane widths, deterministically${perTensor ? ' (one dispatch per tensor)' : ' (batched)'}`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const limits = gpu.info.limits;
      const saved = limits.maxStorageBuffersPerShaderStage;
      expect(saved, 'the batched path needs 9 storage buffers').toBeGreaterThanOrEqual(9);
      if (perTensor) limits.maxStorageBuffersPerShaderStage = 8;
      try {
        const data = sizes.map((n, k) => randn(n, seed + k));
        const tensors = data.map((d, k) => ({ buffer: buffer(gpu, d, `g${k}`), n: sizes[k] }));
        const out = gpu.buffer(4, 'out');
        const again = gpu.buffer(4, 'again');
        gpu.fill(out, POISON);
        gpu.fill(again, POISON);
        const step = gpu.step();
        await gradNormSquared(gpu, step, tensors, out);
        await gradNormSquared(gpu, step, tensors, again);
        const dispatches = step.dispatches / 2;
        step.submit();
        expect(dispatches).toBe(perTensor ? sizes.length + 1 : 4); // vec4: 13 = 8 + 5 (2 dispatches); scalar: 3 (1); stage 2 (1)
        let want = 0;
        for (const d of data) for (const x of d) want += x * x;
        const got = await gpu.readF32(out);
        expect(relL2(got, [want]), `seed ${seed}`).toBeLessThan(1e-5);
        expect((await gpu.readF32(again))[0]).toBe(got[0]);
      } finally {
        limits.maxStorageBuffersPerShaderStage = saved;
      }
    });
});

const base: AdamwRefHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 3 };

describe('adamw vs torch.optim.AdamW (float64)', () => {
  const cases: { name: string; h: AdamwRefHyper }[] = [
    { name: 'weight decay + clipping', h: base },
    { name: 'no clipping (normSq poisoned, must be ignored)', h: { ...base, maxGradNorm: 0 } },
    { name: 'gradScale 0.5, beta1 0.3 (other lerp branch), clipping', h: { ...base, gradScale: 0.5, beta1: 0.3, maxGradNorm: 2 } },
  ];
  for (const { name, h } of cases)
    it(name, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const sizes = [37, 44]; // scalar and vec4 lanes, clipped by one global norm
      const P0 = sizes.map((n, k) => randn(n, seed + k));
      const params = P0.map((p, k) => buffer(gpu, p, `p${k}`));
      const ms = sizes.map((n, k) => buffer(gpu, new Float32Array(n), `m${k}`));
      const vs = sizes.map((n, k) => buffer(gpu, new Float32Array(n), `v${k}`));
      const grads = sizes.map((n, k) => gpu.buffer(n * 4, `g${k}`));
      const hyper = gpu.buffer(adamwHyperBytes, 'hyper');
      const normSq = gpu.buffer(4, 'normSq');
      const ref = adamwRefInit(P0);
      const clips: number[] = [];
      for (let t = 1; t <= 5; t++) {
        // steps 2 and 4 have small gradients: under the clip threshold, so both branches run
        const G = sizes.map((n, k) => randn(n, seed + 10 * t + k, t % 2 ? 1 : 0.1));
        G.forEach((g, k) => gpu.upload(grads[k], g));
        gpu.upload(hyper, adamwHyper({ ...h, step: t }));
        const step = gpu.step();
        if (h.maxGradNorm > 0) await gradNormSquared(gpu, step, sizes.map((n, k) => ({ buffer: grads[k], n })), normSq);
        else gpu.fill(normSq, POISON);
        for (let k = 0; k < sizes.length; k++) await adamw(gpu, step, { n: sizes[k] }, params[k], grads[k], ms[k], vs[k], hyper, normSq);
        step.submit();
        clips.push(adamwRefStep(ref, G, h));
      }
      if (h.maxGradNorm > 0) {
        expect(clips.some((c) => c < 1), 'clipping happened').toBe(true);
        expect(clips.some((c) => c === 1), 'some steps unclipped').toBe(true);
      }
      for (let k = 0; k < sizes.length; k++) {
        const p = await gpu.readF32(params[k]);
        expect(relL2(p, ref.params[k]), `param ${k} seed ${seed}`).toBeLessThan(1e-5);
        // the update itself, not only the parameter it is added to
        const delta = p.map((x, i) => x - P0[k][i]);
        const wantDelta = ref.params[k].map((x, i) => x - P0[k][i]);
        expect(relL2(delta, wantDelta), `update ${k} seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(await gpu.readF32(ms[k]), ref.m[k]), `m ${k} seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(await gpu.readF32(vs[k]), ref.v[k]), `v ${k} seed ${seed}`).toBeLessThan(1e-5);
      }
    });

  it('adamwMany: two tensors per dispatch, the rest one by one, same results', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const h = base;
    // vec4 pairs: (44, 40) (48, 52) (8, 1036); 12 alone (7th vec4); 37 scalar alone
    const sizes = [44, 37, 40, 48, 52, 8, 1036, 12];
    const P0 = sizes.map((n, k) => randn(n, seed + k));
    const tensors = sizes.map((n, k) => ({
      n, param: buffer(gpu, P0[k], `p${k}`), grad: gpu.buffer(n * 4, `g${k}`),
      m: buffer(gpu, new Float32Array(n), `m${k}`), v: buffer(gpu, new Float32Array(n), `v${k}`),
    }));
    const hyper = gpu.buffer(adamwHyperBytes, 'hyper');
    const normSq = gpu.buffer(4, 'normSq');
    const ref = adamwRefInit(P0);
    let dispatches = 0;
    for (let t = 1; t <= 3; t++) {
      const G = sizes.map((n, k) => randn(n, seed + 100 * t + k, t === 2 ? 0.05 : 1));
      G.forEach((g, k) => gpu.upload(tensors[k].grad, g));
      gpu.upload(hyper, adamwHyper({ ...h, step: t }));
      const step = gpu.step();
      await gradNormSquared(gpu, step, tensors.map((x) => ({ buffer: x.grad, n: x.n })), normSq);
      const before = step.dispatches;
      await adamwMany(gpu, step, tensors, hyper, normSq);
      dispatches = step.dispatches - before;
      step.submit();
      adamwRefStep(ref, G, h);
    }
    expect(gpu.info.limits.maxStorageBuffersPerShaderStage, 'pairs need 10 storage buffers').toBeGreaterThanOrEqual(10);
    expect(dispatches).toBe(5);
    for (let k = 0; k < sizes.length; k++) {
      const p = await gpu.readF32(tensors[k].param);
      expect(relL2(p, ref.params[k]), `param ${k} seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(p.map((x, i) => x - P0[k][i]), ref.params[k].map((x, i) => x - P0[k][i])), `update ${k} seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(tensors[k].m), ref.m[k]), `m ${k} seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(tensors[k].v), ref.v[k]), `v ${k} seed ${seed}`).toBeLessThan(1e-5);
    }
  });

  it('hyper values', () => {
    const h = adamwHyper({ lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.01, step: 2, maxGradNorm: 1 });
    expect(h.byteLength).toBe(adamwHyperBytes);
    expect(h[0]).toBe(Math.fround(1 - 1e-5)); // f32, as torch casts the scalar for an f32 param
    expect(h[5]).toBe(Math.fround(1e-3 / (1 - 0.9 ** 2)));
    expect(h[6]).toBeCloseTo(Math.sqrt(1 - 0.95 ** 2), 7);
    expect(h[9]).toBe(1);
    expect(() => adamwHyper({ lr: 1, beta1: 0.9, beta2: 0.9, eps: 0, weightDecay: 0, step: 0, maxGradNorm: 0 })).toThrow();
  });
});
