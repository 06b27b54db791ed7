import { describe, expect, it } from 'vitest';
import { addInto, biasAdd, geluBackward, geluForward, swigluBackward, swigluForward } from '../../src/kernels/activation';
import { geluBackwardRef, geluRef, swigluBackwardRef, swigluRef } from '../reference/activation';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dot, fdGrad } from '../helpers/fd';
import type { Gpu } from '../../src/engine/gpu/runtime';

const input = (gpu: Gpu, d: Float32Array, label: string) => gpu.buffer(d.byteLength, label, d);
function output(gpu: Gpu, n: number, label: string) {
  const b = gpu.buffer(n * 4, label);
  gpu.fill(b, POISON);
  return b;
}
/** Inputs spread over ±6 plus a few saturating values, which must not turn into NaN. */
function activations(n: number, seed: number) {
  const x = randn(n, seed, 6);
  x[0] = 100;
  x[1] = -100;
  x[2] = 0;
  return x;
}

// 259: scalar path over two workgroups; 1036: vec4 path (259 vec4) over two workgroups.
for (const n of [259, 1036]) {
  describe(`activation n ${n}`, () => {
    it('swiglu forward + backward', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const G = activations(n, seed), U = randn(n, seed + 1, 2), DO = randn(n, seed + 2);
      const gate = input(gpu, G, 'gate'), up = input(gpu, U, 'up');
      const out = output(gpu, n, 'out'), dgate = output(gpu, n, 'dgate'), dup = output(gpu, n, 'dup');
      const step = gpu.step();
      await swigluForward(gpu, step, { n }, gate, up, out);
      await swigluBackward(gpu, step, { n }, input(gpu, DO, 'dout'), gate, up, dgate, dup);
      step.submit();
      expect(relL2(await gpu.readF32(out), swigluRef(G, U)), `out seed ${seed}`).toBeLessThan(1e-5);
      const ref = swigluBackwardRef(DO, G, U);
      expect(relL2(await gpu.readF32(dgate), ref.dgate), `dgate seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(dup), ref.dup), `dup seed ${seed}`).toBeLessThan(1e-5);
      if (n < 500) {
        expect(relL2(ref.dgate, fdGrad((g) => dot(DO, swigluRef(g, U)), G)), `fd dgate seed ${seed}`).toBeLessThan(1e-6);
        expect(relL2(ref.dup, fdGrad((u) => dot(DO, swigluRef(G, u)), U)), `fd dup seed ${seed}`).toBeLessThan(1e-6);
      }
    });

    it('gelu_new forward + backward (overwrite and accumulate)', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const X = activations(n, seed), DY = randn(n, seed + 1), DX0 = randn(n, seed + 2);
      const x = input(gpu, X, 'x'), dy = input(gpu, DY, 'dy');
      const y = output(gpu, n, 'y'), dx = output(gpu, n, 'dx'), dxAcc = input(gpu, DX0, 'dxAcc');
      const step = gpu.step();
      await geluForward(gpu, step, { n }, x, y);
      await geluBackward(gpu, step, { n }, dy, x, dx);
      await geluBackward(gpu, step, { n, accumulate: true }, dy, x, dxAcc);
      step.submit();
      expect(relL2(await gpu.readF32(y), geluRef(X)), `y seed ${seed}`).toBeLessThan(1e-5);
      const ref = geluBackwardRef(DY, X);
      expect(relL2(await gpu.readF32(dx), ref), `dx seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(dxAcc), ref.map((v, i) => v + DX0[i])), `dx acc seed ${seed}`).toBeLessThan(1e-5);
      if (n < 500) expect(relL2(ref, fdGrad((xx) => dot(DY, geluRef(xx)), X)), `fd seed ${seed}`).toBeLessThan(1e-6);
    });

    it('addInto', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const A = randn(n, seed), B = randn(n, seed + 1);
      const dst = input(gpu, A, 'dst');
      const step = gpu.step();
      await addInto(gpu, step, { n }, dst, input(gpu, B, 'src'));
      step.submit();
      expect(relL2(await gpu.readF32(dst), Float64Array.from(A, (a, i) => a + B[i])), `seed ${seed}`).toBeLessThan(1e-6);
    });
  });
}

describe('biasAdd', () => {
  for (const cols of [37, 44])
    it(`rows 7, cols ${cols}`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const rows = 7;
      const Y = randn(rows * cols, seed), B = randn(cols, seed + 1);
      const y = input(gpu, Y, 'y');
      const step = gpu.step();
      await biasAdd(gpu, step, { rows, cols }, y, input(gpu, B, 'bias'));
      step.submit();
      const want = Float64Array.from(Y, (v, i) => v + B[i % cols]);
      expect(relL2(await gpu.readF32(y), want), `seed ${seed}`).toBeLessThan(1e-6);
    });
});
