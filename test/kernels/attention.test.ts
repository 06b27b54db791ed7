// Attention kernels against the float64 reference. SwiftShader compiles these kernels slowly (seconds per
// tiling), so this file runs the smallest tiling (8 rows × 8 keys): every shape below spans several query
// and key tiles. attention-tiles.test.ts runs the tilings this device picks by itself.
import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionForward, type AttentionTiles } from '../../src/kernels/attention';
import { attentionBackwardRef, attentionForwardRef } from '../reference/attention';
import { freshSeed, relL2, testGpu } from '../helpers/gpu';
import { attnInputs, runBoth, runForward, shapeName, type Shape } from '../helpers/attention';

const SMALL: AttentionTiles = { BQ: 8, BK: 8, WG: 16 };
const tiles = { forward: SMALL, dq: SMALL, dkv: SMALL, decode: { BQ: 4, BK: 8, WG: 8 } };

describe('attention reference', () => {
  it('analytic backward matches central differences of the f64 forward', () => {
    const seed = freshSeed();
    for (const s of [{ batch: 1, seq: 5, heads: 4, kvHeads: 2, headDim: 3 }, { batch: 2, seq: 4, heads: 3, kvHeads: 2, headDim: 2 }]) {
      const x = attnInputs(s, seed);
      const [q, k, v] = [x.q, x.k, x.v].map((a) => Float64Array.from(a));
      const loss = () => attentionForwardRef(s, q, k, v).out.reduce((acc, o, i) => acc + o * x.dout[i], 0);
      const g = attentionBackwardRef(s, q, k, v, x.dout);
      const eps = 1e-6;
      for (const [arr, grad] of [[q, g.dq], [k, g.dk], [v, g.dv]] as const) {
        const fd = new Float64Array(arr.length);
        for (let i = 0; i < arr.length; i++) {
          const x0 = arr[i];
          arr[i] = x0 + eps;
          const up = loss();
          arr[i] = x0 - eps;
          fd[i] = (up - loss()) / (2 * eps);
          arr[i] = x0;
        }
        expect(relL2(grad, fd), `${shapeName(s)} seed ${seed}`).toBeLessThan(1e-7);
      }
    }
  });
});

// H3/KV2 is an uneven grouping (heads 0,1 → kv 0; head 2 → kv 1); D9 and D10 are not multiples of 4.
// dkvSplits: the dk/dv pass walks all heads of a group in one workgroup (1), or splits them: 3 heads in
// 2 workgroups (2 + 1); by default (these grids are small) one head per workgroup, which for H3/KV2 leaves
// kv head 1's second split empty.
const shapes: (Shape & { dkvSplits?: number })[] = [
  { batch: 2, seq: 13, heads: 4, kvHeads: 2, headDim: 10, dkvSplits: 1 },
  { batch: 1, seq: 37, heads: 3, kvHeads: 1, headDim: 16, dkvSplits: 2 },
  { batch: 1, seq: 11, heads: 3, kvHeads: 2, headDim: 9 },
  { batch: 3, seq: 1, heads: 2, kvHeads: 1, headDim: 10 },
];

describe('attention forward + backward', () => {
  for (const s of shapes)
    it(`${shapeName(s)} dkvSplits ${s.dkvSplits ?? 'auto'}`, async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const x = attnInputs(s, seed);
      const got = await runBoth(gpu, { ...s, tiles }, x);
      const f = attentionForwardRef(s, x.q, x.k, x.v);
      const g = attentionBackwardRef(s, x.q, x.k, x.v, x.dout);
      expect(relL2(got.out, f.out), `out seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.lse, f.lse), `lse seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.dq, g.dq), `dq seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.dk, g.dk), `dk seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.dv, g.dv), `dv seed ${seed}`).toBeLessThan(1e-5);
    });

  it('decode: kvSeq 20, posStart 9, seq 1, 3 (split over key chunks) and 5 match the rows of the full computation', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const full: Shape = { batch: 2, seq: 20, heads: 4, kvHeads: 2, headDim: 10 };
    const { batch: B, heads: H, kvHeads: KV, headDim: D } = full;
    const x = attnInputs(full, seed);
    const want = attentionForwardRef(full, x.q, x.k, x.v);
    const gpuFull = await runForward(gpu, { ...full, tiles }, x.q, x.k, x.v);
    const posStart = 9;
    for (const seq of [1, 3, 5]) {
      // q: rows posStart.. of each sequence; cache rows after the last query hold NaN (not written yet)
      const q = new Float32Array(B * seq * H * D);
      for (let b = 0; b < B; b++) q.set(x.q.subarray((b * 20 + posStart) * H * D, (b * 20 + posStart + seq) * H * D), b * seq * H * D);
      const [k, v] = [x.k, x.v].map((a) => {
        const c = a.slice();
        for (let b = 0; b < B; b++) c.fill(NaN, (b * 20 + posStart + seq) * KV * D, (b + 1) * 20 * KV * D);
        return c;
      });
      const got = await runForward(gpu, { ...full, seq, kvSeq: 20, posStart, tiles }, q, k, v);
      const outRows = (a: ArrayLike<number>) => {
        const r: number[] = [];
        for (let b = 0; b < B; b++) for (let i = (b * 20 + posStart) * H * D; i < (b * 20 + posStart + seq) * H * D; i++) r.push(a[i]);
        return r;
      };
      const lseRows = (a: ArrayLike<number>) => {
        const r: number[] = [];
        for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < seq; t++) r.push(a[(b * H + h) * 20 + posStart + t]);
        return r;
      };
      expect(relL2(got.out, outRows(want.out)), `seq ${seq} out vs f64, seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.out, outRows(gpuFull.out)), `seq ${seq} out vs full GPU run, seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.lse, lseRows(want.lse)), `seq ${seq} lse, seed ${seed}`).toBeLessThan(1e-5);
      // seq <= 4 took the split path: chunk kernel + merge kernel
      const st = gpu.step();
      const b = got.bufs;
      await attentionForward(gpu, st, { ...full, seq, kvSeq: 20, posStart, tiles }, b.q, b.k, b.v, b.out, b.lse);
      expect(st.dispatches).toBe(seq <= 4 ? 2 : 1);
      st.submit();
    }
  });

  it('backward is deterministic (no atomics): two runs agree bit for bit', async () => {
    const gpu = await testGpu();
    const s: Shape = { batch: 1, seq: 37, heads: 3, kvHeads: 1, headDim: 16 };
    const x = attnInputs(s, freshSeed());
    const a = await runBoth(gpu, { ...s, tiles }, x);
    const b = await runBoth(gpu, { ...s, tiles }, x);
    for (const key of ['dq', 'dk', 'dv'] as const) expect(Array.from(a[key])).toEqual(Array.from(b[key]));
    // this small grid takes the head split: rowDot, dq, dk/dv parts, their sum
    const st = gpu.step();
    const buf = (n: number) => gpu.buffer(n * 4);
    const [nq, nk, nl] = [x.q.length, x.k.length, s.batch * s.heads * s.seq];
    await attentionBackward(gpu, st, { ...s, tiles }, buf(nq), buf(nk), buf(nk), buf(nq), buf(nl), buf(nq), buf(nq), buf(nk), buf(nk));
    expect(st.dispatches).toBe(4);
    st.submit();
  });
});
