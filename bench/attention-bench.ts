// Attention on the real GPU: correctness of the tilings this device picks (larger than the 32 KiB ones the
// SwiftShader tests can run) against the f64 reference, then forward / backward time at model shapes.
// Usage (GPU host): node scripts/build-cli.mjs bench/attention-bench.ts; node dist/attention-bench.js
import { Gpu } from '../src/engine/gpu/runtime';
import { attentionBackward, attentionForward, attentionTiles, type AttentionShape } from '../src/kernels/attention';
import { attentionBackwardRef, attentionForwardRef } from '../test/reference/attention';
import { uniformArray } from '../src/engine/util/random';

const gpu = await Gpu.create();
console.log(`device: ${gpu.info.description || gpu.info.vendor} ${gpu.info.architecture} cpuFallback=${gpu.info.cpuFallback}` +
  ` workgroup memory ${gpu.info.limits.maxComputeWorkgroupStorageSize}`);

const rand = uniformArray;
function relL2(got: ArrayLike<number>, want: ArrayLike<number>) {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

function setup(s: AttentionShape) {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = s;
  const h = { q: rand(B * T * H * D, 1, 2), k: rand(B * T * KV * D, 2, 2), v: rand(B * T * KV * D, 3), dout: rand(B * T * H * D, 4) };
  const up = (a: Float32Array, l: string) => gpu.buffer(a.byteLength, l, a);
  return {
    h,
    q: up(h.q, 'q'), k: up(h.k, 'k'), v: up(h.v, 'v'), dout: up(h.dout, 'dout'),
    out: gpu.buffer(h.q.byteLength, 'out'), lse: gpu.buffer(B * H * T * 4, 'lse'),
    dq: gpu.buffer(h.q.byteLength, 'dq'), dk: gpu.buffer(h.k.byteLength, 'dk'), dv: gpu.buffer(h.v.byteLength, 'dv'),
  };
}

for (const D of [64, 128, 80, 10]) {
  console.log(`tiles D${D}: forward ${JSON.stringify(attentionTiles(gpu, 'forward', D))} decode ${JSON.stringify(attentionTiles(gpu, 'decode', D))} dq ${JSON.stringify(attentionTiles(gpu, 'dq', D))} dkv ${JSON.stringify(attentionTiles(gpu, 'dkv', D))}`);
  const s = { batch: 2, seq: 157, heads: 4, kvHeads: 2, headDim: D };
  const b = setup(s);
  const st = gpu.step();
  await attentionForward(gpu, st, s, b.q, b.k, b.v, b.out, b.lse);
  await attentionBackward(gpu, st, s, b.q, b.k, b.v, b.out, b.lse, b.dout, b.dq, b.dk, b.dv);
  st.submit();
  const f = attentionForwardRef(s, b.h.q, b.h.k, b.h.v);
  const g = attentionBackwardRef(s, b.h.q, b.h.k, b.h.v, b.h.dout);
  const errs = [
    relL2(await gpu.readF32(b.out), f.out), relL2(await gpu.readF32(b.lse), f.lse),
    relL2(await gpu.readF32(b.dq), g.dq), relL2(await gpu.readF32(b.dk), g.dk), relL2(await gpu.readF32(b.dv), g.dv),
  ];
  {
    // decode rows 150..152 (split path) against the same rows of the full forward
    const dS = { ...s, seq: 3, kvSeq: 157, posStart: 150 };
    const qd = new Float32Array(2 * 3 * 4 * D);
    for (let bb = 0; bb < 2; bb++) qd.set(b.h.q.subarray((bb * 157 + 150) * 4 * D, (bb * 157 + 153) * 4 * D), bb * 3 * 4 * D);
    const od = gpu.buffer(qd.byteLength, 'od'), ld = gpu.buffer(2 * 4 * 3 * 4, 'ld');
    const st2 = gpu.step();
    await attentionForward(gpu, st2, dS, gpu.buffer(qd.byteLength, 'qd', qd), b.k, b.v, od, ld);
    st2.submit();
    const got = await gpu.readF32(od);
    const want: number[] = [];
    for (let bb = 0; bb < 2; bb++) for (let i = (bb * 157 + 150) * 4 * D; i < (bb * 157 + 153) * 4 * D; i++) want.push(f.out[i]);
    const e = relL2(got, want);
    console.log(`  decode check rows 150..152: relL2 ${e.toExponential(1)} ${e < 1e-5 ? 'ok' : 'FAIL'}`);
  }
  console.log(`  check B2 T157 H4 KV2 D${D}: out/lse/dq/dk/dv relL2 ${errs.map((e) => e.toExponential(1)).join(' ')} ${errs.every((e) => e < 1e-5) ? 'ok' : 'FAIL'}`);
}

// Many repetitions in one submit: a submit + sync costs ~0.1 ms or more here, which would swamp small kernels.
// Many repetitions in one submit: a submit + sync costs ~0.1 ms or more here, which would swamp small kernels.
// GPU time counts from the submit (recording is JS work before it, reported apart).
async function time(label: string, flops: number, record: (st: ReturnType<Gpu['step']>) => Promise<void>) {
  let reps = 2;
  let best = Infinity;
  let js = 0;
  for (let trial = 0; trial < 4; trial++) {
    const t0 = performance.now();
    const st = gpu.step();
    for (let r = 0; r < reps; r++) await record(st);
    const t1 = performance.now();
    st.submit();
    await gpu.sync();
    const ms = (performance.now() - t1) / reps;
    if (trial) { best = Math.min(best, ms); js = (t1 - t0) / reps; }
    reps = Math.min(500, Math.max(20, Math.ceil(30 / ms)));
  }
  console.log(`  ${label}: ${best.toFixed(3)} ms, ${(flops / best / 1e9).toFixed(2)} TFLOP/s (JS recording ${(js * 1000).toFixed(0)} µs/call)`);
}

{
  // ~0.3 s of work first: the GPU clocks up, and the first timed shape is not penalised
  const s = { batch: 4, seq: 1024, heads: 32, kvHeads: 8, headDim: 64 };
  const b = setup(s);
  const t0 = performance.now();
  while (performance.now() - t0 < 300) {
    const st = gpu.step();
    for (let r = 0; r < 20; r++) await attentionForward(gpu, st, s, b.q, b.k, b.v, b.out, b.lse);
    st.submit();
    await gpu.sync();
  }
}

const shapes: AttentionShape[] = [
  { batch: 4, seq: 256, heads: 32, kvHeads: 8, headDim: 64 },
  { batch: 4, seq: 1024, heads: 32, kvHeads: 8, headDim: 64 },
  { batch: 4, seq: 1024, heads: 32, kvHeads: 32, headDim: 64 },
  { batch: 1, seq: 1024, heads: 14, kvHeads: 2, headDim: 64 },
  { batch: 1, seq: 512, heads: 14, kvHeads: 2, headDim: 64 },
  { batch: 2, seq: 512, heads: 9, kvHeads: 3, headDim: 64 },
  { batch: 2, seq: 1024, heads: 32, kvHeads: 8, headDim: 128 },
  { batch: 4, seq: 1024, heads: 12, kvHeads: 12, headDim: 64 },
];
for (const s of shapes) {
  console.log(`B${s.batch} T${s.seq} H${s.heads} KV${s.kvHeads} D${s.headDim}`);
  const b = setup(s);
  // causal: half of the T² score matrix; forward 2 matmuls, backward 5 (FA2 recomputes S)
  const mm = 2 * s.batch * s.heads * s.seq * s.seq * s.headDim / 2;
  await time('forward ', 2 * mm, (st) => attentionForward(gpu, st, s, b.q, b.k, b.v, b.out, b.lse));
  if (s.seq === 1024 && s.headDim === 64 && s.batch === 4 && s.heads === 32)
    for (const t of [{ BQ: 64, BK: 32, WG: 256 }])
      await time(`forward ${JSON.stringify(t)}`, 2 * mm, (st) => attentionForward(gpu, st, { ...s, tiles: { forward: t } }, b.q, b.k, b.v, b.out, b.lse));
  await time('backward', 5 * mm, (st) => attentionBackward(gpu, st, s, b.q, b.k, b.v, b.out, b.lse, b.dout, b.dq, b.dk, b.dv));
  const cache = { ...s, seq: 1, kvSeq: s.seq, posStart: s.seq - 1 };
  await time('decode 1 row', 4 * s.batch * s.heads * s.seq * s.headDim, (st) => attentionForward(gpu, st, cache, b.q, b.k, b.v, b.out, b.lse));
  if (s.seq === 1024 && s.headDim === 64 && s.batch === 4 && s.kvHeads === 8)
    for (const t of [{ BQ: 4, BK: 64, WG: 64 }, { BQ: 4, BK: 32, WG: 32 }])
      await time(`decode ${JSON.stringify(t)}`, 4 * s.batch * s.heads * s.seq * s.headDim, (st) => attentionForward(gpu, st, { ...cache, tiles: { decode: t } }, b.q, b.k, b.v, b.out, b.lse));
  if (s.batch * s.kvHeads < 16)
    await time('backward, no head split', 5 * mm, (st) => attentionBackward(gpu, st, { ...s, dkvSplits: 1 }, b.q, b.k, b.v, b.out, b.lse, b.dout, b.dq, b.dk, b.dv));
  if (s.headDim === 128)
    for (const dkv of [{ BK: 16, BQ: 16, WG: 64 }, { BK: 32, BQ: 8, WG: 64 }, { BK: 16, BQ: 8, WG: 32 }])
      await time(`backward dkv ${JSON.stringify(dkv)}`, 5 * mm, (st) => attentionBackward(gpu, st, { ...s, tiles: { dkv } }, b.q, b.k, b.v, b.out, b.lse, b.dout, b.dq, b.dk, b.dv));
  if (s.seq === 1024 && s.headDim === 64 && s.batch === 4 && s.kvHeads === 8)
    for (const [dq, dkv] of [[{ BQ: 32, BK: 32, WG: 128 }, { BK: 32, BQ: 32, WG: 128 }], [{ BQ: 32, BK: 16, WG: 128 }, { BK: 32, BQ: 16, WG: 128 }], [{ BQ: 64, BK: 16, WG: 256 }, { BK: 32, BQ: 16, WG: 64 }], [{ BQ: 16, BK: 16, WG: 64 }, { BK: 16, BQ: 16, WG: 64 }]])
      await time(`backward ${JSON.stringify([dq, dkv])}`, 5 * mm, (st) => attentionBackward(gpu, st, { ...s, tiles: { dq, dkv } }, b.q, b.k, b.v, b.out, b.lse, b.dout, b.dq, b.dk, b.dv));
}
process.exit(0);
