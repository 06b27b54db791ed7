// AdaLoRA kernels (src/kernels/adalora.ts) vs float64 references on fresh random inputs with odd shapes, outputs
// poisoned first; the orthogonal regulariser's gradient (kernels + matmul, as OrthRegulariser records it) also vs
// central finite differences of its f64 loss.
import { describe, expect, it } from 'vitest';
import { importanceUpdate, maskE, orthLoss, orthNorm, tripletScores } from '../../src/kernels/adalora';
import { AdaLoraModule, OrthRegulariser } from '../../src/engine/adapters/adalora';
import type { LinearInfo } from '../../src/engine/adapters/types';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { fdGrad } from '../helpers/fd';

const T_OUT = 60_000;

// ---- float64 references ----

/** ‖P − I‖_F and (coef/‖P − I‖)·(P − I) (0 when the norm is 0). */
function orthNormRef(P: ArrayLike<number>, r: number, coef: number) {
  const M = Float64Array.from(P, (v, e) => v - (Math.floor(e / r) === e % r ? 1 : 0));
  const norm = Math.sqrt(M.reduce((a, v) => a + v * v, 0));
  return { norm, scaled: M.map((v) => (norm > 0 ? (coef / norm) * v : 0)) };
}

/** w · mean_j ‖M_j‖_F over A·Aᵀ − I and Bᵀ·B − I, A [r, in], B [out, r] */
function orthRegRef(A: ArrayLike<number>, B: ArrayLike<number>, r: number, inDim: number, outDim: number, w: number): number {
  let a = 0, b = 0;
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) {
      let pa = 0, pb = 0;
      for (let k = 0; k < inDim; k++) pa += A[i * inDim + k] * A[j * inDim + k];
      for (let o = 0; o < outDim; o++) pb += B[o * r + i] * B[o * r + j];
      a += (pa - (i === j ? 1 : 0)) ** 2;
      b += (pb - (i === j ? 1 : 0)) ** 2;
    }
  return (w * (Math.sqrt(a) + Math.sqrt(b))) / 2;
}

function importanceRef(p: ArrayLike<number>, g: ArrayLike<number>, ipt0: ArrayLike<number>, unc0: ArrayLike<number>, clip: number, b1: number, b2: number) {
  const ipt = new Float64Array(p.length), unc = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const x = Math.abs(p[i] * g[i] * clip);
    ipt[i] = b1 * ipt0[i] + (1 - b1) * x;
    unc[i] = b2 * unc0[i] + (1 - b2) * Math.abs(x - ipt[i]);
  }
  return { ipt, unc };
}

const fakeLayer = (inDim: number, outDim: number): LinearInfo =>
  ({ name: 'layer', shortName: 'layer', inDim, outDim, weight: null as unknown as GPUBuffer, weightType: 'f32', weightTransposed: true });

describe('adalora kernels', () => {
  it('orth_norm: P − I, its Frobenius norm, the scaled gradient factor (r² > workgroup, and P = I → 0)', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    for (const [r, identity] of [[19, false], [3, false], [5, true]] as const) {
      const P = identity ? Float32Array.from({ length: r * r }, (_, e) => (Math.floor(e / r) === e % r ? 1 : 0)) : randn(r * r, seed + r);
      const coef = 0.37;
      const cov = gpu.buffer(P.byteLength, 'P', P);
      const norms = gpu.buffer(4 * 4, 'norms');
      gpu.fill(norms, POISON);
      const step = gpu.step();
      await orthNorm(gpu, step, { r, slot: 2, coef }, cov, norms);
      step.submit();
      const ref = orthNormRef(P, r, coef);
      const n = await gpu.readF32(norms);
      expect(Math.abs(n[2] - ref.norm) / Math.max(ref.norm, 1), `norm r=${r} (seed ${seed})`).toBeLessThan(1e-5);
      expect(Number.isNaN(n[0]) && Number.isNaN(n[1]) && Number.isNaN(n[3]), 'other slots untouched').toBe(true);
      expect(relL2(await gpu.readF32(cov), ref.scaled), `scaled r=${r} (seed ${seed})`).toBeLessThan(1e-5);
    }
  }, T_OUT);

  it('orth_loss: lossSum += w · mean of the norms (count > workgroup)', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const count = 301, w = 0.5;
    const norms = randn(count, seed).map(Math.abs);
    const start = randn(1, seed + 1)[0] + 3;
    const loss = gpu.buffer(4, 'loss', new Float32Array([start]));
    const step = gpu.step();
    await orthLoss(gpu, step, { count, weight: w }, gpu.buffer(count * 4, 'norms', norms), loss);
    step.submit();
    const want = start + (w * norms.reduce((a, v) => a + v, 0)) / count;
    expect(Math.abs((await gpu.readF32(loss))[0] - want) / want, `seed ${seed}`).toBeLessThan(1e-6);
  }, T_OUT);

  for (const n of [1001, 1000])
    for (const maxGradNorm of [0, 1])
      it(`importance: |p ⊙ g·clip| and both averages (n ${n}, ${n % 4 ? 'scalar' : 'vec4'}, max_norm ${maxGradNorm})`, async () => {
        const gpu = await testGpu();
        const seed = freshSeed();
        const [b1, b2] = [0.85, 0.7];
        const p = randn(n, seed), g = randn(n, seed + 1), ipt0 = randn(n, seed + 2).map(Math.abs), unc0 = randn(n, seed + 3).map(Math.abs);
        const normSq = 4 + randn(1, seed + 4)[0]; // norm ≈ 2 > 1: clipping active
        const clip = maxGradNorm > 0 ? Math.min(1, maxGradNorm / (Math.sqrt(Math.fround(normSq)) + 1e-6)) : 1;
        const buf = (x: Float32Array, l: string) => gpu.buffer(x.byteLength, l, x);
        const [bIpt, bUnc] = [buf(ipt0, 'ipt'), buf(unc0, 'unc')];
        const step = gpu.step();
        await importanceUpdate(gpu, step, { n, beta1: b1, beta2: b2, maxGradNorm }, buf(p, 'p'), buf(g, 'g'), buf(new Float32Array([normSq]), 'n²'), bIpt, bUnc);
        step.submit();
        const ref = importanceRef(p, g, ipt0, unc0, clip, b1, b2);
        expect(relL2(await gpu.readF32(bIpt), ref.ipt), `ipt (seed ${seed})`).toBeLessThan(1e-5);
        expect(relL2(await gpu.readF32(bUnc), ref.unc), `unc (seed ${seed})`).toBeLessThan(1e-5);
      }, T_OUT);

  it('triplet_score: E score + mean A-row score + mean B-column score, written at the module offset only', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const [r, inDim, outDim, offset] = [5, 301, 29, 3];
    const pos = (n: number, s: number) => randn(n, s).map(Math.abs);
    const [iA, uA, iE, uE, iB, uB] = [pos(r * inDim, seed), pos(r * inDim, seed + 1), pos(r, seed + 2), pos(r, seed + 3), pos(outDim * r, seed + 4), pos(outDim * r, seed + 5)];
    const buf = (x: Float32Array, l: string) => gpu.buffer(x.byteLength, l, x);
    const scores = gpu.buffer(11 * 4, 'scores');
    gpu.fill(scores, POISON);
    const step = gpu.step();
    await tripletScores(gpu, step, { r, inDim, outDim, offset }, { ipt: buf(iA, 'iA'), unc: buf(uA, 'uA') }, { ipt: buf(iE, 'iE'), unc: buf(uE, 'uE') }, { ipt: buf(iB, 'iB'), unc: buf(uB, 'uB') }, scores);
    step.submit();
    const want = Array.from({ length: r }, (_, k) => {
      let a = 0, b = 0;
      for (let i = 0; i < inDim; i++) a += iA[k * inDim + i] * uA[k * inDim + i];
      for (let o = 0; o < outDim; o++) b += iB[o * r + k] * uB[o * r + k];
      return iE[k] * uE[k] + a / inDim + b / outDim;
    });
    const got = await gpu.readF32(scores);
    expect(relL2(got.subarray(offset, offset + r), want), `seed ${seed}`).toBeLessThan(1e-5);
    for (const i of [0, 1, 2, 8, 9, 10]) expect(Number.isNaN(got[i]), `slot ${i} untouched`).toBe(true);
  }, T_OUT);

  it('mask_e: E zeroed where the mask (at the module offset) is 0', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const r = 7, offset = 4;
    const E = randn(r, seed);
    const mask = Float32Array.from({ length: offset + r + 2 }, (_, i) => (i < offset || i % 3 ? 1 : 0));
    const bE = gpu.buffer(E.byteLength, 'E', E);
    const step = gpu.step();
    await maskE(gpu, step, { r, offset }, gpu.buffer(mask.byteLength, 'mask', mask), bE);
    step.submit();
    expect(Array.from(await gpu.readF32(bE))).toEqual(Array.from(E, (v, k) => (mask[offset + k] ? v : 0)));
  }, T_OUT);

  it('orthogonal regulariser: loss term and gradients of A and B vs finite differences (odd r, in, out)', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const [r, inDim, outDim, w] = [5, 23, 17, 0.7];
    const A = randn(r * inDim, seed, 0.4), B = randn(outDim * r, seed + 1, 0.4);
    const gA0 = randn(r * inDim, seed + 2), gB0 = randn(outDim * r, seed + 3); // grads already there: the term is added
    const m = new AdaLoraModule(gpu, fakeLayer(inDim, outDim), 1, r, 1);
    m.setWeights(gpu, { A, E: new Float32Array(r), B });
    gpu.upload(m.gradA, gA0);
    gpu.upload(m.gradB, gB0);
    const loss = gpu.buffer(4, 'loss', new Float32Array([1.25]));
    const reg = new OrthRegulariser(gpu, [m], 2, w);
    const step = gpu.step();
    await reg.record(step, loss);
    step.submit();
    const L = (a: ArrayLike<number>, b: ArrayLike<number>) => orthRegRef(a, b, r, inDim, outDim, w);
    expect(Math.abs((await gpu.readF32(loss))[0] - 1.25 - L(A, B)) / L(A, B), `loss (seed ${seed})`).toBeLessThan(1e-5);
    const fdA = fdGrad((a) => L(a, B), A), fdB = fdGrad((b) => L(A, b), B);
    const dA = Array.from(await gpu.readF32(m.gradA), (v, i) => v - gA0[i]);
    const dB = Array.from(await gpu.readF32(m.gradB), (v, i) => v - gB0[i]);
    expect(relL2(dA, fdA), `dA (seed ${seed})`).toBeLessThan(1e-5);
    expect(relL2(dB, fdB), `dB (seed ${seed})`).toBeLessThan(1e-5);
  }, T_OUT);
});
