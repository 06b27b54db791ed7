// DoRA kernels vs the float64 reference (test/reference/dora.ts), odd shapes, poisoned outputs; the magnitude
// gradient also vs central finite differences of the f64 forward (n held constant: it is detached).
import { describe, expect, it } from 'vitest';
import { doraBackward, doraRowNorm, doraScaleForward } from '../../src/kernels/dora';
import { packWeights16 } from '../../src/kernels/linear';
import { doraBackwardRef, doraNormRef, doraScaleRef } from '../reference/dora';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import { to16 } from '../helpers/half';

const T_OUT = 120_000;

describe('dora kernels', () => {
  for (const wType of ['f32', 'bf16', 'f16'] as const)
    for (const transposed of [true, false])
      it(`row norm, forward scale, backward (${wType}, ${transposed ? '[out,in]' : 'Conv1D [in,out]'})`, async () => {
        const gpu = await testGpu();
        const seed = freshSeed();
        const [T, inDim, out, r, s] = [13, 37, 29, 3, 1.7];
        let Wv = randn(out * inDim, seed); // [out, in] values
        let stored: Float32Array = Wv;
        if (!transposed) {
          stored = new Float32Array(out * inDim);
          for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) stored[i * out + o] = Wv[o * inDim + i];
        }
        let wData: ArrayBufferView = stored;
        if (wType !== 'f32') {
          const h = to16(stored, wType);
          wData = packWeights16(h.bits);
          const back = h.values;
          Wv = new Float32Array(out * inDim);
          for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) Wv[o * inDim + i] = transposed ? back[o * inDim + i] : back[i * out + o];
        }
        const A = randn(r * inDim, seed + 1, 0.3), B = randn(out * r, seed + 2, 0.3), m = randn(out, seed + 3).map((x) => 1 + x * 0.5);
        const z = randn(T * out, seed + 4), dy = randn(T * out, seed + 5), dm0 = randn(out, seed + 6);
        const buf = (x: ArrayBufferView, l: string) => gpu.buffer(x.byteLength, l, x);
        const norm = gpu.buffer(out * 4, 'n'), c = gpu.buffer(out * 4, 'c'), y = buf(z, 'y'), zs = gpu.buffer(T * out * 4, 'z');
        const dz = gpu.buffer(T * out * 4, 'dz'), dm = gpu.buffer(out * 4, 'dm'), dmAcc = buf(dm0, 'dmAcc');
        for (const b of [norm, c, zs, dz, dm]) gpu.fill(b, POISON);
        const shape = { tokens: T, inDim, outDim: out, rank: r, scale: s };
        const step = gpu.step();
        const [bA, bB, bm] = [buf(A, 'A'), buf(B, 'B'), buf(m, 'm')];
        await doraRowNorm(gpu, step, { ...shape, weightType: wType, weightTransposed: transposed }, buf(wData, 'W'), bA, bB, bm, norm, c);
        await doraScaleForward(gpu, step, shape, y, zs, c);
        const dyB = buf(dy, 'dy');
        await doraBackward(gpu, step, shape, dyB, zs, norm, c, dz, dm);
        await doraBackward(gpu, step, { ...shape, accumulate: true }, dyB, zs, norm, c, dz, dmAcc);
        step.submit();
        const ref = doraNormRef(Wv, A, B, m, out, inDim, r, s);
        const bw = doraBackwardRef(dy, z, ref.norm, ref.c, T, out);
        const errs = {
          norm: relL2(await gpu.readF32(norm), ref.norm),
          c: relL2(await gpu.readF32(c), ref.c),
          y: relL2(await gpu.readF32(y), doraScaleRef(z, ref.c, T, out)),
          z: relL2(await gpu.readF32(zs), z),
          dz: relL2(await gpu.readF32(dz), bw.dz),
          dm: relL2(await gpu.readF32(dm), bw.dm),
          dmAcc: relL2(await gpu.readF32(dmAcc), bw.dm.map((v, o) => v + dm0[o])),
        };
        for (const [k, e] of Object.entries(errs)) expect(e, `${k} (seed ${seed})`).toBeLessThan(1e-5);
        // finite differences of L(m) = Σ dy ⊙ y(m), y = (m/n) ⊙ z, n constant
        const L = (mm: Float64Array) => {
          let acc = 0;
          for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) acc += dy[t * out + o] * (mm[o] / ref.norm[o]) * z[t * out + o];
          return acc;
        };
        const fd = new Float64Array(out);
        const h = 1e-5;
        for (let o = 0; o < out; o++) {
          const p = Float64Array.from(m), q = Float64Array.from(m);
          p[o] += h;
          q[o] -= h;
          fd[o] = (L(p) - L(q)) / (2 * h);
        }
        expect(relL2(await gpu.readF32(dm), fd), `dm vs finite differences (seed ${seed})`).toBeLessThan(1e-5);
      }, T_OUT);
});
