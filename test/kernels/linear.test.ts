import { describe, expect, it } from 'vitest';
import { loraBackward, loraForward, packWeights16 } from '../../src/kernels/linear';
import { loraBackwardRef, loraForwardRef, type LoraDims } from '../reference/linear';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dot, f64, fdGrad } from '../helpers/fd';

const T_OUT = 120_000;

describe('packWeights16', () => {
  it('puts element 2i in the low half of word i; an odd count half-fills the last word', () => {
    expect(Array.from(packWeights16(new Uint16Array([0x1234, 0xabcd, 0xffff])))).toEqual([0xabcd1234, 0x0000ffff]);
    expect(Array.from(packWeights16(new Uint16Array([0x8001, 0x7ffe])))).toEqual([0x7ffe8001]);
    expect(packWeights16(new Uint16Array(0)).length).toBe(0);
  });
});

// small odd shapes; the second has T > 256 so dA and dB (K = T) take the split-K path
const cases: LoraDims[] = [
  { T: 13, inDim: 11, outDim: 9, r: 3, s: 0.7 },
  { T: 301, inDim: 37, outDim: 29, r: 5, s: 2 },
];

async function run(d: LoraDims, seed: number, accumulate: boolean) {
  const gpu = await testGpu();
  const x = randn(d.T * d.inDim, seed), A = randn(d.r * d.inDim, seed + 1), B = randn(d.outDim * d.r, seed + 2);
  const y0 = randn(d.T * d.outDim, seed + 3), dy = randn(d.T * d.outDim, seed + 4);
  const dx0 = randn(d.T * d.inDim, seed + 5), dA0 = randn(d.r * d.inDim, seed + 6), dB0 = randn(d.outDim * d.r, seed + 7);
  const buf = (a: Float32Array, l: string) => gpu.buffer(a.byteLength, l, a);
  const poisoned = (n: number, l: string) => { const b = gpu.buffer(n * 4, l); gpu.fill(b, POISON); return b; };
  const xb = buf(x, 'x'), Ab = buf(A, 'A'), Bb = buf(B, 'B'), yb = buf(y0, 'y'), dyb = buf(dy, 'dy');
  const xa = poisoned(d.T * d.r, 'xa'), scratch = poisoned(d.T * d.r, 'scratch');
  const dx = accumulate ? buf(dx0, 'dx') : poisoned(d.T * d.inDim, 'dx');
  const dA = accumulate ? buf(dA0, 'dA') : poisoned(d.r * d.inDim, 'dA');
  const dB = accumulate ? buf(dB0, 'dB') : poisoned(d.outDim * d.r, 'dB');
  const shape = { tokens: d.T, inDim: d.inDim, outDim: d.outDim, rank: d.r, scale: d.s };
  const step = gpu.step();
  await loraForward(gpu, step, shape, xb, Ab, Bb, xa, yb);
  await loraBackward(gpu, step, { ...shape, accumulateDx: accumulate, accumulate }, xb, Ab, Bb, xa, dyb, dx, dA, dB, scratch);
  step.submit();
  return {
    inputs: { x, A, B, y0, dy, dx0, dA0, dB0 },
    y: await gpu.readF32(yb), xa: await gpu.readF32(xa),
    dx: await gpu.readF32(dx), dA: await gpu.readF32(dA), dB: await gpu.readF32(dB),
  };
}

describe('LoRA forward and backward', () => {
  for (const d of cases)
    for (const accumulate of [false, true])
      it(`T=${d.T} in=${d.inDim} out=${d.outDim} r=${d.r}${accumulate ? ' accumulating' : ''} vs f64 reference`, async () => {
        const seed = freshSeed();
        const got = await run(d, seed, accumulate);
        const { x, A, B, y0, dy, dx0, dA0, dB0 } = got.inputs;
        const fw = loraForwardRef(d, x, A, B, y0);
        const bw = loraBackwardRef(d, x, A, B, dy, accumulate ? { dx0, dA0, dB0 } : {});
        expect(relL2(got.y, fw.y), `y seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(got.xa, fw.xa), `xa seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(got.dx, bw.dx), `dx seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(got.dA, bw.dA), `dA seed ${seed}`).toBeLessThan(1e-5);
        expect(relL2(got.dB, bw.dB), `dB seed ${seed}`).toBeLessThan(1e-5);
      }, T_OUT);

  it('backward matches central finite differences of the f64 forward', async () => {
    const d = cases[0];
    const seed = freshSeed();
    const got = await run(d, seed, false);
    const { x, A, B, y0, dy } = got.inputs;
    // L(x, A, B) = Σ dy ⊙ y: its gradients are what the backward computes
    const L = (xv: ArrayLike<number>, Av: ArrayLike<number>, Bv: ArrayLike<number>) => dot(dy, loraForwardRef(d, xv, Av, Bv, y0).y);
    const fdx = fdGrad((v) => L(v, f64(A), f64(B)), x);
    const fdA = fdGrad((v) => L(f64(x), v, f64(B)), A);
    const fdB = fdGrad((v) => L(f64(x), f64(A), v), B);
    expect(relL2(got.dx, fdx), `dx seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(got.dA, fdA), `dA seed ${seed}`).toBeLessThan(1e-5);
    expect(relL2(got.dB, fdB), `dB seed ${seed}`).toBeLessThan(1e-5);
  }, T_OUT);
});
