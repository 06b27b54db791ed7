import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionForward, attentionSharedBytes, attentionTiles, type AttentionShape, type AttentionTiles } from '../../src/kernels/attention';
import { attentionBackwardRef, attentionForwardRef } from '../reference/attention';
import { POISON, freshSeed, randn, relL2, testGpu } from '../helpers/gpu';
import type { Gpu } from '../../src/engine/gpu/runtime';

type Shape = Required<Pick<AttentionShape, 'batch' | 'seq' | 'heads' | 'kvHeads' | 'headDim'>>;
const name = (s: Shape) => `B${s.batch} T${s.seq} H${s.heads} KV${s.kvHeads} D${s.headDim}`;

function inputs(s: Shape, seed: number, kvSeq = s.seq) {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  return {
    q: randn(B * T * H * D, seed, 2), // scale 2: peaked softmax rows, not near-uniform ones
    k: randn(B * kvSeq * KV * D, seed + 1, 2),
    v: randn(B * kvSeq * KV * D, seed + 2),
    dout: randn(B * T * H * D, seed + 3),
  };
}

async function runForward(gpu: Gpu, s: AttentionShape & { tiles?: any }, q: Float32Array, k: Float32Array, v: Float32Array) {
  const outB = gpu.buffer(q.byteLength, 'out');
  const lseB = gpu.buffer(s.batch * s.heads * s.seq * 4, 'lse');
  gpu.fill(outB, POISON);
  gpu.fill(lseB, POISON);
  const bufs = { q: gpu.buffer(q.byteLength, 'q', q), k: gpu.buffer(k.byteLength, 'k', k), v: gpu.buffer(v.byteLength, 'v', v) };
  const step = gpu.step();
  await attentionForward(gpu, step, s, bufs.q, bufs.k, bufs.v, outB, lseB);
  step.submit();
  return { out: await gpu.readF32(outB), lse: await gpu.readF32(lseB), bufs: { ...bufs, out: outB, lse: lseB } };
}

async function runBackward(gpu: Gpu, s: Shape & { tiles?: any }, x: ReturnType<typeof inputs>) {
  const f = await runForward(gpu, s, x.q, x.k, x.v);
  const grads = [x.q, x.k, x.v].map((a, i) => gpu.buffer(a.byteLength, ['dq', 'dk', 'dv'][i]));
  grads.forEach((g) => gpu.fill(g, POISON));
  const step = gpu.step();
  const doutB = gpu.buffer(x.dout.byteLength, 'dout', x.dout);
  await attentionBackward(gpu, step, s, f.bufs.q, f.bufs.k, f.bufs.v, f.bufs.out, f.bufs.lse, doutB, grads[0], grads[1], grads[2]);
  step.submit();
  const [dq, dk, dv] = await Promise.all(grads.map((g) => gpu.readF32(g)));
  return { dq, dk, dv };
}

// T=70 spans several query and key tiles; D=128 takes the smallest tiles; H3/KV2 is an uneven grouping.
const shapes: Shape[] = [
  { batch: 2, seq: 13, heads: 4, kvHeads: 2, headDim: 10 },
  { batch: 1, seq: 37, heads: 3, kvHeads: 1, headDim: 16 },
  { batch: 1, seq: 70, heads: 2, kvHeads: 1, headDim: 64 },
  { batch: 1, seq: 19, heads: 2, kvHeads: 2, headDim: 128 },
  { batch: 1, seq: 9, heads: 3, kvHeads: 2, headDim: 9 },
];

describe('attention reference', () => {
  it('analytic backward matches central differences of the f64 forward', () => {
    const seed = freshSeed();
    for (const s of [{ batch: 1, seq: 5, heads: 4, kvHeads: 2, headDim: 3 }, { batch: 2, seq: 4, heads: 3, kvHeads: 2, headDim: 2 }]) {
      const x = inputs(s, seed);
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
        expect(relL2(grad, fd), `${name(s)} seed ${seed}`).toBeLessThan(1e-7);
      }
    }
  });
});

describe('attentionForward', () => {
  for (const s of shapes)
    it(name(s), async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const x = inputs(s, seed);
      const got = await runForward(gpu, s, x.q, x.k, x.v);
      const want = attentionForwardRef(s, x.q, x.k, x.v);
      expect(relL2(got.out, want.out), `out seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.lse, want.lse), `lse seed ${seed}`).toBeLessThan(1e-5);
    });

  it('decode: kvSeq 20, posStart 9, seq 1 and 3 match the full computation rows', async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const full: Shape = { batch: 2, seq: 20, heads: 4, kvHeads: 2, headDim: 10 };
    const x = inputs(full, seed);
    const want = attentionForwardRef(full, x.q, x.k, x.v);
    const gpuFull = await runForward(gpu, full, x.q, x.k, x.v);
    const { batch: B, heads: H, headDim: D } = full;
    const posStart = 9;
    for (const seq of [1, 3]) {
      // q rows posStart..posStart+seq-1 of each sequence; cache rows past them hold NaN (never written yet)
      const q = new Float32Array(B * seq * H * D);
      for (let b = 0; b < B; b++) q.set(x.q.subarray((b * 20 + posStart) * H * D, (b * 20 + posStart + seq) * H * D), b * seq * H * D);
      const [k, v] = [x.k, x.v].map((a) => {
        const c = a.slice();
        for (let b = 0; b < B; b++) c.fill(NaN, (b * 20 + posStart + seq) * 2 * D, (b * 20 + 20) * 2 * D);
        return c;
      });
      const got = await runForward(gpu, { ...full, seq, kvSeq: 20, posStart }, q, k, v);
      const rows = (a: ArrayLike<number>) => {
        const r: number[] = [];
        for (let b = 0; b < B; b++) for (let i = (b * 20 + posStart) * H * D; i < (b * 20 + posStart + seq) * H * D; i++) r.push(a[i]);
        return r;
      };
      const lseRows = (a: ArrayLike<number>) => {
        const r: number[] = [];
        for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < seq; t++) r.push(a[(b * H + h) * 20 + posStart + t]);
        return r;
      };
      expect(relL2(got.out, rows(want.out)), `seq ${seq} out vs f64, seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.out, rows(gpuFull.out)), `seq ${seq} out vs full GPU, seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.lse, lseRows(want.lse)), `seq ${seq} lse, seed ${seed}`).toBeLessThan(1e-5);
    }
  });
});

describe('attentionBackward', () => {
  for (const s of shapes)
    it(name(s), async () => {
      const gpu = await testGpu();
      const seed = freshSeed();
      const x = inputs(s, seed);
      const got = await runBackward(gpu, s, x);
      const want = attentionBackwardRef(s, x.q, x.k, x.v, x.dout);
      expect(relL2(got.dq, want.dq), `dq seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.dk, want.dk), `dk seed ${seed}`).toBeLessThan(1e-5);
      expect(relL2(got.dv, want.dv), `dv seed ${seed}`).toBeLessThan(1e-5);
    });

  it('is deterministic (no atomics): two runs agree bit for bit', async () => {
    const gpu = await testGpu();
    const s: Shape = { batch: 1, seq: 37, heads: 4, kvHeads: 1, headDim: 12 };
    const x = inputs(s, freshSeed());
    const a = await runBackward(gpu, s, x);
    const b = await runBackward(gpu, s, x);
    expect(Array.from(a.dk)).toEqual(Array.from(b.dk));
    expect(Array.from(a.dq)).toEqual(Array.from(b.dq));
  });
});

describe('attention tilings', () => {
  // Every tiling that fits this device, forced, on a shape that is not a multiple of any tile.
  const all: AttentionTiles[] = [
    { BQ: 64, BK: 32, WG: 256 }, { BQ: 32, BK: 32, WG: 128 }, { BQ: 32, BK: 16, WG: 128 },
    { BQ: 16, BK: 16, WG: 64 }, { BQ: 8, BK: 8, WG: 32 }, { BQ: 16, BK: 32, WG: 128 }, { BQ: 8, BK: 16, WG: 32 }, { BQ: 8, BK: 8, WG: 16 },
  ];
  const s: Shape = { batch: 1, seq: 45, heads: 2, kvHeads: 1, headDim: 12 };
  it(`forward, dq, dkv with every fitting tile, ${name(s)}`, async () => {
    const gpu = await testGpu();
    const seed = freshSeed();
    const x = inputs(s, seed);
    const wantF = attentionForwardRef(s, x.q, x.k, x.v);
    const wantB = attentionBackwardRef(s, x.q, x.k, x.v, x.dout);
    const fits = (kernel: 'forward' | 'dq' | 'dkv', t: AttentionTiles) => {
      try {
        return attentionTiles(gpu, kernel, s.headDim, [t]) === t;
      } catch {
        return false;
      }
    };
    let tried = 0;
    for (const t of all) {
      const tiles = { forward: fits('forward', t) ? t : undefined, dq: fits('dq', t) ? t : undefined, dkv: fits('dkv', t) ? t : undefined };
      if (!tiles.forward && !tiles.dq && !tiles.dkv) continue;
      tried++;
      const tag = `${JSON.stringify(t)} seed ${seed}`;
      const f = await runForward(gpu, { ...s, tiles }, x.q, x.k, x.v);
      expect(relL2(f.out, wantF.out), `out ${tag}`).toBeLessThan(1e-5);
      expect(relL2(f.lse, wantF.lse), `lse ${tag}`).toBeLessThan(1e-5);
      const g = await runBackward(gpu, { ...s, tiles }, x);
      expect(relL2(g.dq, wantB.dq), `dq ${tag}`).toBeLessThan(1e-5);
      expect(relL2(g.dk, wantB.dk), `dk ${tag}`).toBeLessThan(1e-5);
      expect(relL2(g.dv, wantB.dv), `dv ${tag}`).toBeLessThan(1e-5);
    }
    expect(tried).toBeGreaterThanOrEqual(6);
  });

  it('shared memory accounting covers 32 KiB devices for head dims 8..128', () => {
    const fake = { info: { limits: { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256 } } } as unknown as Gpu;
    for (let D = 1; D <= 128; D++)
      for (const kernel of ['forward', 'dq', 'dkv'] as const) expect(attentionSharedBytes(kernel, D, attentionTiles(fake, kernel, D))).toBeLessThanOrEqual(32768);
  });
});
