// DeltaLoraModule on one layer (odd shapes, not tile multiples) against float64: before the snapshot it is LoRA;
// after it, forward is x·(W_Δ + s·B·A)ᵀ with W_Δ = λ·s·(B·A − B_K·A_K) (the in-place W update), dx is the gradient
// of that forward, and dA, dB are its gradients with W_Δ held constant (W gets no gradient) — all checked against
// central finite differences of the f64 forward (exact here: the forward is linear in each of x, A, B).
import { describe, expect, it } from 'vitest';
import { DeltaLoraModule } from '../../src/engine/adapters/deltalora';
import type { LinearInfo } from '../../src/engine/adapters/types';
import { dot, fdGrad, f64 } from '../helpers/fd';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';

// y = y0 + x·(Wd + s·B·A)ᵀ, x [T, in], A [r, in], B [out, r], Wd [out, in]
function refForward(T: number, inDim: number, outDim: number, r: number, s: number, y0: Float64Array, x: Float64Array, A: Float64Array, B: Float64Array, Wd: Float64Array) {
  const W = Float64Array.from(Wd);
  for (let o = 0; o < outDim; o++) for (let k = 0; k < r; k++) for (let i = 0; i < inDim; i++) W[o * inDim + i] += s * B[o * r + k] * A[k * inDim + i];
  const y = Float64Array.from(y0);
  for (let t = 0; t < T; t++) for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) y[t * outDim + o] += x[t * inDim + i] * W[o * inDim + i];
  return y;
}

// λ·s·(B·A − B_K·A_K) [out, in]
function deltaW(inDim: number, outDim: number, r: number, c: number, A: Float64Array, B: Float64Array, AK: Float64Array, BK: Float64Array) {
  const W = new Float64Array(outDim * inDim);
  for (let o = 0; o < outDim; o++)
    for (let k = 0; k < r; k++)
      for (let i = 0; i < inDim; i++) W[o * inDim + i] += c * (B[o * r + k] * A[k * inDim + i] - BK[o * r + k] * AK[k * inDim + i]);
  return W;
}

describe('DeltaLoraModule vs float64', () => {
  it('LoRA before the snapshot; W₀ + λ·s·(BA − B_K A_K) after it; grads only through s·B·A', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const T = 13, inDim = 37, outDim = 23, r = 3, alpha = 5, lambda = 1.7, s = alpha / r;
    const layer: LinearInfo = {
      name: 'model.layers.0.mlp.up_proj', shortName: 'up_proj', inDim, outDim,
      weight: gpu.buffer(inDim * outDim * 4), weightType: 'f32', weightTransposed: true,
    };
    const m = new DeltaLoraModule(gpu, layer, T, { r, alpha, seed }, lambda);
    const A0 = randn(r * inDim, seed + 1, 0.4), B0 = randn(outDim * r, seed + 2, 0.4);
    const A1 = randn(r * inDim, seed + 3, 0.4), B1 = randn(outDim * r, seed + 4, 0.4);
    const x = randn(T * inDim, seed + 5), y0 = randn(T * outDim, seed + 6), dy = randn(T * outDim, seed + 7);
    const dx0 = randn(T * inDim, seed + 8), dA0 = randn(r * inDim, seed + 9), dB0 = randn(outDim * r, seed + 10);
    const xb = gpu.buffer(x.byteLength, 'x', x), dyb = gpu.buffer(dy.byteLength, 'dy', dy);
    const yb = gpu.buffer(y0.byteLength, 'y'), dxb = gpu.buffer(dx0.byteLength, 'dx');
    const errs: Record<string, number> = {};

    // one forward + backward; accumulate=false poisons dA, dB first (they must be overwritten)
    async function check(tag: string, A: Float32Array, B: Float32Array, Wd: Float64Array, accumulate: boolean) {
      gpu.upload(yb, y0);
      gpu.upload(dxb, dx0);
      gpu.upload(m.gradA, accumulate ? dA0 : new Float32Array(r * inDim).fill(POISON));
      gpu.upload(m.gradB, accumulate ? dB0 : new Float32Array(outDim * r).fill(POISON));
      const step = gpu.step(tag);
      await m.forward(gpu, step, xb, yb, T);
      const ret = await m.backward(gpu, step, xb, dyb, dxb, T, accumulate);
      step.submit();
      expect(ret).toBe(dyb);
      const [y, dx, dA, dB] = [await gpu.readF32(yb, T * outDim), await gpu.readF32(dxb, T * inDim), await gpu.readF32(m.gradA, r * inDim), await gpu.readF32(m.gradB, outDim * r)];
      const a = f64(A), b = f64(B), xs = f64(x), y00 = f64(y0);
      const fwd = (xx: Float64Array, aa: Float64Array, bb: Float64Array) => refForward(T, inDim, outDim, r, s, y00, xx, aa, bb, Wd);
      const L = (xx: Float64Array, aa: Float64Array, bb: Float64Array) => dot(dy, fwd(xx, aa, bb));
      const wantDx = fdGrad((v) => L(v, a, b), xs, 1e-3).map((g, i) => g + dx0[i]);
      const wantDA = fdGrad((v) => L(xs, v, b), a, 1e-3).map((g, i) => g + (accumulate ? dA0[i] : 0));
      const wantDB = fdGrad((v) => L(xs, a, v), b, 1e-3).map((g, i) => g + (accumulate ? dB0[i] : 0));
      errs[`${tag} y`] = relL2(y, fwd(xs, a, b));
      errs[`${tag} dx`] = relL2(dx, wantDx);
      errs[`${tag} dA`] = relL2(dA, wantDA);
      errs[`${tag} dB`] = relL2(dB, wantDB);
    }

    // plain LoRA: W_Δ = 0
    m.setWeights(A0, B0);
    await check('inactive', A0, B0, new Float64Array(outDim * inDim), false);
    expect(m.active).toBe(false);
    // snapshot (A_K, B_K) = (A0, B0) recorded into a step, then an "optimizer step" moves A, B
    const snap = gpu.step('snapshot');
    m.snapshot(snap);
    snap.submit();
    m.setWeights(A1, B1);
    const { AK, BK } = await m.getSnapshot();
    expect(AK).toEqual(A0);
    expect(BK).toEqual(B0);
    const Wd = deltaW(inDim, outDim, r, lambda * s, f64(A1), f64(B1), f64(A0), f64(B0));
    await check('active', A1, B1, Wd, false);
    await check('active+acc', A1, B1, Wd, true);
    console.log(`seed ${seed}: ` + Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
    for (const [k, v] of Object.entries(errs)) expect(v, `${k} seed ${seed}`).toBeLessThan(1e-5);

    // the snapshot term matters: treating the active module as plain LoRA would be far off
    const y = await gpu.readF32(yb, T * outDim);
    const plain = refForward(T, inDim, outDim, r, s, f64(y0), f64(x), f64(A1), f64(B1), new Float64Array(outDim * inDim));
    expect(relL2(y, plain)).toBeGreaterThan(1e-2);

    // the rank-2r export is the same linear map: s·B'·A' = s·B·A + W_Δ
    const e = await m.exportLayer();
    expect(e.r).toBe(2 * r);
    const viaExport = refForward(T, inDim, outDim, 2 * r, s, f64(y0), f64(x), f64(e.A), f64(e.B), new Float64Array(outDim * inDim));
    expect(relL2(viaExport, refForward(T, inDim, outDim, r, s, f64(y0), f64(x), f64(A1), f64(B1), Wd))).toBeLessThan(1e-6);
  });
});
