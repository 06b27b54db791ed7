// LoraModule with lora_dropout p (PEFT's lora.Linear in training) on one layer, odd shapes, against float64:
//   y = y0 + s·(dropout(x)·Aᵀ)·Bᵀ,  dropout(x) = keep ⊙ x/(1 − p), keep from the f64 hash reference (counter c = the
//   module's c-th training forward);  dx = dx0 + keep ⊙ (s·g·A)/(1 − p),  dA = s·gᵀ·dropout(x),  dB = s·dyᵀ·xa.
// With the mask fixed the forward is linear in each of x, A, B, so central finite differences are exact checks.
// Also: a new mask every micro-batch (accumulated grads), p = 0 is bit-identical to no dropout, eval ignores p, and
// LoRA-drop's shared modules draw one mask per user layer.
import { describe, expect, it } from 'vitest';
import { LoraModule } from '../../src/engine/adapters/lora';
import { SharedLoraModule, SharedPair } from '../../src/engine/adapters/loradrop';
import type { LinearInfo } from '../../src/engine/adapters/types';
import type { Gpu } from '../../src/engine/gpu/runtime';
import { dropoutStream } from '../../src/kernels/dropout';
import { dot, f64, fdGrad } from '../helpers/fd';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dropoutRef, maskRef } from '../reference/dropout';
import { matmulRef } from '../reference/matmul';

const T = 13, inDim = 37, outDim = 23, r = 3, alpha = 5, s = alpha / r;

const layerInfo = (gpu: Gpu, name = 'model.layers.1.self_attn.q_proj'): LinearInfo => ({
  name, shortName: name.slice(name.lastIndexOf('.') + 1), inDim, outDim,
  weight: gpu.buffer(inDim * outDim * 4), weightType: 'f32', weightTransposed: true,
});

/** the f64 forward with the mask fixed, and its backward */
function ref(keep: Uint8Array, p: number, x: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, y0: ArrayLike<number>) {
  const xd = dropoutRef(x, keep, p);
  const xa = matmulRef(xd, A, T, r, inDim, { transB: true });
  const y = matmulRef(xa, B, T, outDim, r, { transB: true, alpha: s, C0: y0 });
  const backward = (dy: ArrayLike<number>, acc: { dx0: ArrayLike<number>; dA0?: ArrayLike<number>; dB0?: ArrayLike<number> }) => {
    const g = matmulRef(dy, B, T, r, outDim);
    return {
      dx: dropoutRef(matmulRef(g, A, T, inDim, r, { alpha: s }), keep, p, acc.dx0),
      dA: matmulRef(g, xd, r, inDim, T, { transA: true, alpha: s, C0: acc.dA0 }),
      dB: matmulRef(dy, xa, outDim, r, T, { transA: true, alpha: s, C0: acc.dB0 }),
    };
  };
  return { y, backward };
}

interface Io { x: Float32Array; y0: Float32Array; dy: Float32Array; dx0: Float32Array }
const io = (seed: number): Io => ({ x: randn(T * inDim, seed), y0: randn(T * outDim, seed + 1), dy: randn(T * outDim, seed + 2), dx0: randn(T * inDim, seed + 3) });

/** One micro-batch (one Step): forward, then backward unless training is false. */
async function microBatch(gpu: Gpu, m: { forward: LoraModule['forward']; backward: LoraModule['backward'] }, d: Io, training: boolean, accumulate: boolean) {
  const b = (a: Float32Array, l: string) => gpu.buffer(a.byteLength, l, a);
  const x = b(d.x, 'x'), y = b(d.y0, 'y'), dy = b(d.dy, 'dy'), dx = b(d.dx0, 'dx');
  const step = gpu.step();
  await m.forward(gpu, step, x, y, T, training);
  if (training) await m.backward(gpu, step, x, dy, dx, T, accumulate);
  step.submit();
  return { y: await gpu.readF32(y, T * outDim), dx: await gpu.readF32(dx, T * inDim) };
}

const poisonGrads = (gpu: Gpu, m: LoraModule) => {
  gpu.fill(m.gradA, POISON);
  gpu.fill(m.gradB, POISON);
};
const grads = async (gpu: Gpu, m: LoraModule) => ({ dA: await gpu.readF32(m.gradA, r * inDim), dB: await gpu.readF32(m.gradB, outDim * r) });
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('LoraModule with lora_dropout vs float64', () => {
  for (const p of [0.1, 0.6])
    it(`p ${p}: forward, backward, finite differences; a new mask each micro-batch, grads accumulate`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const layer = layerInfo(gpu);
      const m = new LoraModule(gpu, layer, T, { r, alpha, seed, dropout: p });
      const A = randn(r * inDim, seed + 10, 0.5), B = randn(outDim * r, seed + 11, 0.5);
      m.setWeights(A, B);
      const stream = dropoutStream(seed, layer.name);

      // micro-batch 1: mask c = 1, grads overwritten (poisoned first)
      const d1 = io(seed + 20);
      poisonGrads(gpu, m);
      const got1 = await microBatch(gpu, m, d1, true, false);
      const g1 = await grads(gpu, m);
      const keep1 = maskRef(T * inDim, p, stream, 1);
      const r1 = ref(keep1, p, d1.x, A, B, d1.y0);
      const b1 = r1.backward(d1.dy, { dx0: d1.dx0 });
      expect(relL2(got1.y, r1.y), `y seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got1.dx, b1.dx), `dx seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g1.dA, b1.dA), `dA seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g1.dB, b1.dB), `dB seed ${seed}`).toBeLessThan(1e-5);
      // the dropped inputs got no gradient; a kept one does
      const dxOwn = Float64Array.from(got1.dx, (v, i) => v - d1.dx0[i]);
      expect(dxOwn.every((v, i) => keep1[i] || Math.abs(v) < 1e-6), `dropped dx seed ${seed}`).toBe(true);

      // finite differences of L = Σ dy ⊙ y(x, A, B) with this mask
      const L = (xv: ArrayLike<number>, Av: ArrayLike<number>, Bv: ArrayLike<number>) => dot(d1.dy, ref(keep1, p, xv, Av, Bv, d1.y0).y);
      expect(relL2(dxOwn, fdGrad((v) => L(v, f64(A), f64(B)), d1.x)), `fd dx seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g1.dA, fdGrad((v) => L(f64(d1.x), v, f64(B)), A)), `fd dA seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g1.dB, fdGrad((v) => L(f64(d1.x), f64(A), v), B)), `fd dB seed ${seed}`).toBeLessThan(1e-5);

      // micro-batch 2 of the same optimizer step: mask c = 2, grads added
      const d2 = io(seed + 30);
      const got2 = await microBatch(gpu, m, d2, true, true);
      const g2 = await grads(gpu, m);
      const keep2 = maskRef(T * inDim, p, stream, 2);
      expect(keep2).not.toEqual(keep1);
      const r2 = ref(keep2, p, d2.x, A, B, d2.y0);
      const b2 = r2.backward(d2.dy, { dx0: d2.dx0, dA0: g1.dA, dB0: g1.dB });
      expect(relL2(got2.y, r2.y), `y2 seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got2.dx, b2.dx), `dx2 seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g2.dA, b2.dA), `dA2 seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(g2.dB, b2.dB), `dB2 seed ${seed}`).toBeLessThan(1e-5);
      expect(m.drop!.counter).toBe(2);
    });

  it('p = 0 is bit-identical to no dropout; eval (training = false) ignores p and draws no mask', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const layer = layerInfo(gpu);
    const A = randn(r * inDim, seed + 10, 0.5), B = randn(outDim * r, seed + 11, 0.5), d = io(seed + 20);
    const make = (dropout?: number) => {
      const m = new LoraModule(gpu, layer, T, { r, alpha, seed, dropout });
      m.setWeights(A, B);
      return m;
    };
    const plain = make(), zero = make(0), half = make(0.5);
    expect(zero.drop).toBeNull();
    const a = await microBatch(gpu, plain, d, true, false), ga = await grads(gpu, plain);
    const b = await microBatch(gpu, zero, d, true, false), gb = await grads(gpu, zero);
    expect(bits(b.y)).toEqual(bits(a.y));
    expect(bits(b.dx)).toEqual(bits(a.dx));
    expect(bits(gb.dA)).toEqual(bits(ga.dA));
    expect(bits(gb.dB)).toEqual(bits(ga.dB));
    const evalPlain = await microBatch(gpu, plain, d, false, false);
    const evalHalf = await microBatch(gpu, half, d, false, false);
    expect(bits(evalHalf.y)).toEqual(bits(evalPlain.y));
    expect(half.drop!.counter).toBe(0);
    // and training with p = 0.5 does change y (the test above is not vacuous)
    const trainHalf = await microBatch(gpu, half, d, true, false);
    expect(relL2(trainHalf.y, evalPlain.y)).toBeGreaterThan(1e-3);
  });
});

describe("LoRA-drop's shared pair with lora_dropout", () => {
  it('each user layer draws its own mask; the pair gradient is the sum over users', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const p = 0.3;
    const l1 = layerInfo(gpu, 'model.layers.0.self_attn.q_proj'), l2 = layerInfo(gpu, 'model.layers.1.self_attn.q_proj');
    const pair = new SharedPair(gpu, l1, { r, alpha, seed, dropout: p });
    pair.users.push(l1.name, l2.name);
    const A = randn(r * inDim, seed + 10, 0.5), B = randn(outDim * r, seed + 11, 0.5);
    pair.holder.setWeights(A, B);
    const u1 = new SharedLoraModule(gpu, l1, T, pair), u2 = new SharedLoraModule(gpu, l2, T, pair);
    const d1 = io(seed + 20), d2 = io(seed + 30);
    const buf = (a: Float32Array, l: string) => gpu.buffer(a.byteLength, l, a);
    const x1 = buf(d1.x, 'x1'), y1 = buf(d1.y0, 'y1'), dy1 = buf(d1.dy, 'dy1'), dx1 = buf(d1.dx0, 'dx1');
    const x2 = buf(d2.x, 'x2'), y2 = buf(d2.y0, 'y2'), dy2 = buf(d2.dy, 'dy2'), dx2 = buf(d2.dx0, 'dx2');
    poisonGrads(gpu, pair.holder);
    // as the model records one micro-batch: every forward, then the backwards in reverse
    const step = gpu.step();
    await u1.forward(gpu, step, x1, y1, T, true);
    await u2.forward(gpu, step, x2, y2, T, true);
    await u2.backward(gpu, step, x2, dy2, dx2, T, false);
    await u1.backward(gpu, step, x1, dy1, dx1, T, false);
    step.submit();
    const k1 = maskRef(T * inDim, p, dropoutStream(seed, l1.name), 1), k2 = maskRef(T * inDim, p, dropoutStream(seed, l2.name), 1);
    expect(k1).not.toEqual(k2);
    const r1 = ref(k1, p, d1.x, A, B, d1.y0), r2 = ref(k2, p, d2.x, A, B, d2.y0);
    const b2 = r2.backward(d2.dy, { dx0: d2.dx0 });
    const b1 = r1.backward(d1.dy, { dx0: d1.dx0, dA0: b2.dA, dB0: b2.dB });
    expect(relL2(await gpu.readF32(y1, T * outDim), r1.y), `y1 seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(y2, T * outDim), r2.y), `y2 seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(dx1, T * inDim), b1.dx), `dx1 seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(await gpu.readF32(dx2, T * inDim), b2.dx), `dx2 seed ${seed}`).toBeLessThan(1e-5);
    const g = await grads(gpu, pair.holder);
    expect(relL2(g.dA, b1.dA), `dA seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(g.dB, b1.dB), `dB seed ${seed}`).toBeLessThan(1e-5);
  });
});
