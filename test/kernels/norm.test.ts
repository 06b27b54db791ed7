import { describe, expect, it } from 'vitest';
import { layernormBackward, layernormForward, rmsnormBackward, rmsnormForward } from '../../src/kernels/norm';
import { layernormBackwardRef, layernormRef, rmsnormBackwardRef, rmsnormRef } from '../reference/norm';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { dot, fdGrad } from '../helpers/fd';
import type { Gpu } from '../../src/engine/gpu/runtime';

const eps = 1e-5;
const rows = 7;
/** The references build each row's Jacobian (O(dim²)): fewer rows for the long ones keep the file fast. */
const rowsFor = (dim: number) => (dim > 1000 ? 2 : rows);

function input(gpu: Gpu, data: Float32Array, label: string) {
  return gpu.buffer(data.byteLength, label, data);
}
function output(gpu: Gpu, n: number, label: string) {
  const b = gpu.buffer(n * 4, label);
  gpu.fill(b, POISON);
  return b;
}

// dim 37 runs the scalar path, 44 the vec4 path; 300 makes scalar threads hold two elements; 2053 (scalar)
// and 8196 (vec4) are longer than the register cache (8 V per thread × 256) and exercise the streamed tail.
for (const dim of [37, 44, 300, 2053, 8196]) {
  describe(`norm dim ${dim}`, () => {
    const rows = rowsFor(dim);
    it('rmsnorm forward + backward', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const X = randn(rows * dim, seed, 2);
      const Wt = randn(dim, seed + 1);
      const DY = randn(rows * dim, seed + 2);
      const x = input(gpu, X, 'x'), w = input(gpu, Wt, 'w'), dy = input(gpu, DY, 'dy');
      const y = output(gpu, rows * dim, 'y'), rstd = output(gpu, rows, 'rstd'), dx = output(gpu, rows * dim, 'dx');
      const step = gpu.step();
      await rmsnormForward(gpu, step, { rows, dim, eps }, x, w, y, rstd);
      await rmsnormBackward(gpu, step, { rows, dim }, dy, x, w, rstd, dx);
      step.submit();
      const ref = rmsnormRef(X, Wt, rows, dim, eps);
      expect(relL2(await gpu.readF32(y), ref.y), `y seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(rstd), ref.rstd), `rstd seed ${seed}`).toBeLessThan(1e-5);
      const dxRef = rmsnormBackwardRef(DY, X, Wt, rows, dim, eps);
      expect(relL2(await gpu.readF32(dx), dxRef), `dx seed ${seed}`).toBeLessThan(1e-5);
      if (dim < 100) {
        const fd = fdGrad((xx) => dot(DY, rmsnormRef(xx, Wt, rows, dim, eps).y), X);
        expect(relL2(dxRef, fd), `fd seed ${seed}`).toBeLessThan(1e-6);
      }
    });

    it('layernorm forward + backward', async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      // an offset mean makes the two-pass variance matter
      const X = randn(rows * dim, seed, 2).map((v) => v + 3);
      const Wt = randn(dim, seed + 1);
      const B = randn(dim, seed + 3);
      const DY = randn(rows * dim, seed + 2);
      const x = input(gpu, X, 'x'), w = input(gpu, Wt, 'w'), b = input(gpu, B, 'b'), dy = input(gpu, DY, 'dy');
      const y = output(gpu, rows * dim, 'y'), mean = output(gpu, rows, 'mean'), rstd = output(gpu, rows, 'rstd');
      const dx = output(gpu, rows * dim, 'dx');
      const step = gpu.step();
      await layernormForward(gpu, step, { rows, dim, eps }, x, w, b, y, mean, rstd);
      await layernormBackward(gpu, step, { rows, dim }, dy, x, w, mean, rstd, dx);
      step.submit();
      const ref = layernormRef(X, Wt, B, rows, dim, eps);
      expect(relL2(await gpu.readF32(y), ref.y), `y seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(mean), ref.mean), `mean seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(rstd), ref.rstd), `rstd seed ${seed}`).toBeLessThan(1e-5);
      const dxRef = layernormBackwardRef(DY, X, Wt, rows, dim, eps);
      expect(relL2(await gpu.readF32(dx), dxRef), `dx seed ${seed}`).toBeLessThan(1e-5);
      if (dim < 100) {
        const fd = fdGrad((xx) => dot(DY, layernormRef(xx, Wt, B, rows, dim, eps).y), X);
        expect(relL2(dxRef, fd), `fd seed ${seed}`).toBeLessThan(1e-6);
      }
    });
  });
}

describe('norm accumulate', () => {
  it('rmsnorm and layernorm backward add into dx', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const dim = 44;
    const X = randn(rows * dim, seed), Wt = randn(dim, seed + 1), DY = randn(rows * dim, seed + 2), DX0 = randn(rows * dim, seed + 3);
    const x = input(gpu, X, 'x'), w = input(gpu, Wt, 'w'), dy = input(gpu, DY, 'dy');
    const rstd = output(gpu, rows, 'rstd'), mean = output(gpu, rows, 'mean'), y = output(gpu, rows * dim, 'y');
    const dxR = input(gpu, DX0, 'dxR'), dxL = input(gpu, DX0, 'dxL');
    let step = gpu.step();
    await rmsnormForward(gpu, step, { rows, dim, eps }, x, w, y, rstd);
    await rmsnormBackward(gpu, step, { rows, dim, accumulate: true }, dy, x, w, rstd, dxR);
    step.submit();
    const wantR = rmsnormBackwardRef(DY, X, Wt, rows, dim, eps).map((v, i) => v + DX0[i]);
    expect(relL2(await gpu.readF32(dxR), wantR), `rms seed ${seed}`).toBeLessThan(1e-5);
    step = gpu.step();
    await layernormForward(gpu, step, { rows, dim, eps }, x, w, input(gpu, new Float32Array(dim), 'b0'), y, mean, rstd);
    await layernormBackward(gpu, step, { rows, dim, accumulate: true }, dy, x, w, mean, rstd, dxL);
    step.submit();
    const wantL = layernormBackwardRef(DY, X, Wt, rows, dim, eps).map((v, i) => v + DX0[i]);
    expect(relL2(await gpu.readF32(dxL), wantL), `ln seed ${seed}`).toBeLessThan(1e-5);
  });

  it('covers rows beyond the per-dimension workgroup limit with a 2D grid', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    // Lower the limit the kernels read (Step.dispatch checks the same one) so a 3×3 grid covers 7 rows.
    const limits = gpu.info.limits;
    const saved = limits.maxComputeWorkgroupsPerDimension;
    limits.maxComputeWorkgroupsPerDimension = 3;
    try {
      const dim = 44;
      const X = randn(rows * dim, seed), Wt = randn(dim, seed + 1), DY = randn(rows * dim, seed + 2);
      const x = input(gpu, X, 'x'), w = input(gpu, Wt, 'w');
      const y = output(gpu, rows * dim, 'y'), rstd = output(gpu, rows, 'rstd'), dx = output(gpu, rows * dim, 'dx');
      const step = gpu.step();
      await rmsnormForward(gpu, step, { rows, dim, eps }, x, w, y, rstd);
      await rmsnormBackward(gpu, step, { rows, dim }, input(gpu, DY, 'dy'), x, w, rstd, dx);
      step.submit();
      expect(relL2(await gpu.readF32(y), rmsnormRef(X, Wt, rows, dim, eps).y), `seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(await gpu.readF32(dx), rmsnormBackwardRef(DY, X, Wt, rows, dim, eps)), `seed ${seed}`).toBeLessThan(1e-5);
    } finally {
      limits.maxComputeWorkgroupsPerDimension = saved;
    }
  });
});
