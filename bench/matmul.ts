// Matmul and LoRA-product benchmark (Node, Dawn). Build and run:
//   node scripts/build-cli.mjs bench/matmul.ts && node dist/matmul.js [--small] [--quick] [--only SUBSTRING]
// Prints one JSON line per case: {case, M, N, K, bType, ..., msPerIter, tflops, check}. Timing: warm-up, then
// `iters` dispatches recorded into ONE submit, wall time from submit to onSubmittedWorkDone (best of 3 submits),
// with iters chosen so a submit takes ~150 ms. `check` compares 64 sampled outputs with a float64 dot product
// (maxRelErr), so a number from a broken kernel cannot pass unnoticed. A failing case prints {case, error}
// and the run goes on. --small uses tiny sizes (SwiftShader smoke test).
import { Gpu } from '../src/engine/gpu/runtime';
import { matmul, planMatmul, type MatmulPlan, type MatmulShape } from '../src/kernels/matmul';
import { loraBackward, loraForward, packWeights16 } from '../src/kernels/linear';
import { uniformArray } from '../src/engine/util/random';

const args = process.argv.slice(2);
const small = args.includes('--small');
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : '';
// --sweep: the frozen-weight products of one training step of the bench models (bench/models.json), M = 2048
// tokens, each under several tile plans (auto first), to choose the planner's rules from measurements.
const sweep = args.includes('--sweep');
const TARGET_MS = small ? 20 : sweep ? 30 : 150;
const MAX_ITERS = small ? 4 : 1000;

const rand = uniformArray;

/** bf16 by truncation: the bits, and (in place) the f32 values they decode to. */
function toBf16InPlace(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const bits = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    bits[i] = u[i] >>> 16;
    u[i] = bits[i] << 16;
  }
  return bits;
}

function emit(o: Record<string, unknown>) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

/** Times `record` (which records one iteration into a step): warm-up, pick iters, best of 3 submits. */
async function time(gpu: Gpu, record: (step: ReturnType<Gpu['step']>) => Promise<void>) {
  const run = async (iters: number) => {
    const step = gpu.step();
    for (let i = 0; i < iters; i++) await record(step);
    await gpu.sync(); // nothing else in flight
    const t0 = performance.now();
    step.submit();
    await gpu.sync();
    return performance.now() - t0;
  };
  const warm = await run(1); // compiles pipelines, first touches buffers
  const probe = await run(2);
  let iters = Math.max(1, Math.min(MAX_ITERS, Math.round((TARGET_MS / Math.max(probe, 0.01)) * 2)));
  if (quick) iters = Math.min(iters, 10);
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, await run(iters));
  return { iters, msPerIter: best / iters, warmMs: warm };
}

interface Mats {
  A: Float32Array;
  B: Float32Array; // the f32 values the GPU multiplies by (decoded when B is 16-bit)
}

/** max relative error of 64 sampled outputs vs a float64 dot product, relative to the row's |a|·|b| scale */
function sampleCheck(m: Mats, s: MatmulShape, C: Float32Array, seed: number): number {
  const { M, N, K } = s;
  const r = rand(128, seed);
  let worst = 0;
  for (let q = 0; q < 64; q++) {
    const i = Math.min(M - 1, Math.floor(((r[2 * q] + 1) / 2) * M));
    const j = Math.min(N - 1, Math.floor(((r[2 * q + 1] + 1) / 2) * N));
    let sum = 0, mag = 0;
    for (let k = 0; k < K; k++) {
      const a = s.transA ? m.A[k * M + i] : m.A[i * K + k];
      const b = s.transB ? m.B[j * K + k] : m.B[k * N + j];
      sum += a * b;
      mag += Math.abs(a * b);
    }
    const want = (s.alpha ?? 1) * sum;
    const err = Math.abs(C[i * N + j] - want) / ((s.alpha ?? 1) * mag || 1);
    worst = Math.max(worst, Number.isFinite(err) ? err : Infinity);
  }
  return worst;
}

/** Host data and GPU buffers of operands, kept while the sweep moves between plans and shapes of the same size. */
const operandCache = new Map<string, { host: Float32Array; buf: GPUBuffer }>();
/** Fast uniform(-1, 1) (LCG): the LM-head operand has 136 M elements. */
function fastRand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = (x / 4294967296) * 2 - 1;
  }
  return out;
}
function operand(gpu: Gpu, n: number, seed: number, bType: 'f32' | 'bf16' | 'f16'): { host: Float32Array; buf: GPUBuffer } {
  const key = `${n}:${seed}:${bType}`;
  let o = operandCache.get(key);
  if (o) return o;
  const host = sweep ? fastRand(n, seed * 7919 + 1) : rand(n, seed);
  let data: ArrayBufferView = host;
  if (bType === 'bf16') data = packWeights16(toBf16InPlace(host));
  else if (bType !== 'f32') throw new Error('bench only makes f32 and bf16 B');
  o = { host, buf: gpu.buffer(data.byteLength, `operand ${key}`, data) };
  if (sweep) operandCache.set(key, o);
  return o;
}

async function matmulCase(gpu: Gpu, name: string, s: MatmulShape, plan?: MatmulPlan) {
  if (only && !name.includes(only)) return;
  const { M, N, K } = s;
  const bType = s.bType ?? 'f32';
  const a = operand(gpu, M * K, 1, 'f32');
  const b = operand(gpu, K * N, 2, bType);
  const c = gpu.buffer(M * N * 4, 'C');
  try {
    const pl = plan ?? planMatmul(s);
    gpu.fill(c, NaN); // poisoned: an output the kernel skips fails the check
    const t = await time(gpu, (step) => matmul(gpu, step, s, a.buf, b.buf, c, pl));
    const C = await gpu.readF32(c, M * N);
    const maxRelErr = sampleCheck({ A: a.host, B: b.host }, s, C, 7);
    emit({
      case: name, M, N, K, bType, transA: !!s.transA, transB: !!s.transB,
      plan: `${pl.BM}x${pl.BN}x${pl.BK} ${pl.TM}x${pl.TN} split${pl.splits}`,
      iters: t.iters, msPerIter: +t.msPerIter.toFixed(4), tflops: +((2 * M * N * K) / (t.msPerIter * 1e9)).toPrecision(4),
      check: maxRelErr < 1e-4 ? 'ok' : 'FAIL', maxRelErr: +maxRelErr.toExponential(2),
    });
  } finally {
    c.destroy();
    if (!sweep) { a.buf.destroy(); b.buf.destroy(); }
  }
}

async function loraCase(gpu: Gpu, tokens: number, dim: number, rank: number) {
  const name = `lora T=${tokens} in=out=${dim} r=${rank}`;
  if (only && !name.includes(only)) return;
  const shape = { tokens, inDim: dim, outDim: dim, rank, scale: 2 };
  const buf = (n: number, l: string, seed: number) => gpu.buffer(n * 4, l, rand(n, seed));
  const x = buf(tokens * dim, 'x', 1), A = buf(rank * dim, 'A', 2), B = buf(dim * rank, 'B', 3);
  const y = buf(tokens * dim, 'y', 4), dy = buf(tokens * dim, 'dy', 5), dx = buf(tokens * dim, 'dx', 6);
  const xa = gpu.buffer(tokens * rank * 4), g = gpu.buffer(tokens * rank * 4);
  const dA = gpu.buffer(rank * dim * 4), dB = gpu.buffer(dim * rank * 4);
  // useful FLOPs: forward 2 products of 2·T·in·r (in = out), backward 4
  const fwdFlops = 2 * 2 * tokens * dim * rank;
  try {
    const f = await time(gpu, (step) => loraForward(gpu, step, shape, x, A, B, xa, y));
    emit({ case: `${name} forward (2 matmuls)`, tokens, dim, rank, iters: f.iters, msPerIter: +f.msPerIter.toFixed(4), tflops: +(fwdFlops / (f.msPerIter * 1e9)).toPrecision(4) });
    const bw = await time(gpu, (step) => loraBackward(gpu, step, { ...shape, accumulateDx: true }, x, A, B, xa, dy, dx, dA, dB, g));
    emit({ case: `${name} backward (4 matmuls)`, tokens, dim, rank, iters: bw.iters, msPerIter: +bw.msPerIter.toFixed(4), tflops: +((2 * fwdFlops) / (bw.msPerIter * 1e9)).toPrecision(4) });
  } finally {
    for (const b of [x, A, B, y, dy, dx, xa, g, dA, dB]) b.destroy();
  }
}

/** The bf16 frozen-weight products of a Llama-shaped layer at T tokens (forward y = x·Wᵀ, backward dx = dy·W) and
 *  the LM head chunk (logits = h·Eᵀ, dh = dlogits·E) at `headRows` rows. */
function sweepShapes(T: number, C: number, KVD: number, I: number, V: number, headRows: number[]): [string, MatmulShape][] {
  const s: [string, MatmulShape][] = [];
  const lin = (n: string, i: number, o: number) => {
    s.push([`${n} fwd`, { M: T, N: o, K: i, transB: true, bType: 'bf16' }]);
    s.push([`${n} dx`, { M: T, N: i, K: o, bType: 'bf16' }]);
  };
  lin(`q/o ${C}x${C}`, C, C);
  lin(`kv ${C}->${KVD}`, C, KVD);
  lin(`gate/up ${C}->${I}`, C, I);
  lin(`down ${I}->${C}`, I, C);
  for (const R of headRows) {
    s.push([`head R${R} logits`, { M: R, N: V, K: C, transB: true, bType: 'bf16' }]);
    s.push([`head R${R} dh`, { M: R, N: C, K: V, bType: 'bf16' }]);
  }
  return s;
}

// First sweep (bench/results/2026-12-01-h200-qwen-profile/before/sweep.jsonl): 64x64, 128x128 (±split 2), 128x64,
// 128x64x16 8x4, 64x128, 128x64 split 2; 64x128 won almost everywhere. These are its neighbours.
const SWEEP_PLANS: MatmulPlan[] = [
  { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, splits: 1 },
  { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, splits: 1 },
  { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, splits: 1 },
  { BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, splits: 2 },
  { BM: 64, BN: 128, BK: 16, TM: 8, TN: 8, splits: 1 },
  { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4, splits: 1 },
];
const LONG_K_PLANS: MatmulPlan[] = [4, 8, 12].map((splits) => ({ BM: 64, BN: 128, BK: 8, TM: 8, TN: 8, splits }));

async function sweepMain(gpu: Gpu) {
  const models: [string, number, number, number, number, number[]][] = small
    ? [['tiny', 72, 24, 136, 300, [20, 130]]]
    : [['qwen', 896, 128, 4864, 151936, [384]], ['smol', 576, 192, 1536, 49152, [1344, 704]]];
  const T = small ? 200 : 2048;
  let failed = 0;
  // big cubes: does 64×128 also beat 128×128 there?
  for (const n of small ? [] : [2048, 4096])
    for (const pl of [planMatmul({ M: n, N: n, K: n }), SWEEP_PLANS[1]])
      await matmulCase(gpu, `sweep cube ${n}^3 f32 A·Bᵀ`, { M: n, N: n, K: n, transB: true }, pl);
  for (const [m, C, KVD, I, V, rows] of models)
    for (const [name, s] of sweepShapes(T, C, KVD, I, V, rows)) {
      const auto = planMatmul(s);
      const plans = [auto, ...SWEEP_PLANS.filter((p) => JSON.stringify(p) !== JSON.stringify(auto))];
      // the head dh (K = vocab) and split plans of huge K: also try more K splits
      if (s.K > 20000) plans.push(...LONG_K_PLANS.filter((p) => p.splits !== auto.splits), { BM: 128, BN: 64, BK: 8, TM: 8, TN: 8, splits: 8 });
      for (const [i, pl] of plans.entries()) {
        try {
          await matmulCase(gpu, `sweep ${m} ${name}${i === 0 ? ' auto' : ''}`, s, pl);
        } catch (e) {
          failed++;
          emit({ case: `sweep ${m} ${name}`, plan: pl, error: String((e as Error)?.message ?? e).slice(0, 300) });
          if (gpu.lostReason) return failed;
        }
      }
    }
  return failed;
}

async function main() {
  const gpu = await Gpu.create();
  emit({ device: gpu.info.description || gpu.info.vendor, architecture: gpu.info.architecture, cpuFallback: gpu.info.cpuFallback, small, quick });
  if (sweep) {
    const failed = await sweepMain(gpu);
    emit({ done: true, failed });
    process.exit(failed ? 1 : 0);
  }
  const cubes = small ? [64, 96] : [1024, 2048, 4096];
  const cases: [string, MatmulShape, MatmulPlan?][] = [];
  for (const n of cubes) {
    cases.push([`${n}^3 f32 A·Bᵀ`, { M: n, N: n, K: n, transB: true }]);
    cases.push([`${n}^3 bf16 A·Bᵀ`, { M: n, N: n, K: n, transB: true, bType: 'bf16' }]);
    cases.push([`${n}^3 f32 A·B`, { M: n, N: n, K: n }]);
    cases.push([`${n}^3 bf16 A·B`, { M: n, N: n, K: n, bType: 'bf16' }]);
  }
  // the other big tile, for tuning: whichever the planner did not pick
  for (const n of cubes) {
    const auto = planMatmul({ M: n, N: n, K: n });
    const alt: MatmulPlan = auto.BM === 128 ? { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, splits: 1 } : { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, splits: 1 };
    cases.push([`${n}^3 f32 A·Bᵀ alt-tile`, { M: n, N: n, K: n, transB: true }, alt]);
    cases.push([`${n}^3 bf16 A·Bᵀ alt-tile`, { M: n, N: n, K: n, transB: true, bType: 'bf16' }, alt]);
  }
  // LoRA-shaped products (tokens T, in = out = d, rank r) and the frozen base product they ride on
  const T = small ? 300 : 2048; // small: still > 256 tokens, so dA/dB take the split-K path
  const r = small ? 4 : 16;
  const dims = small ? [40] : [576, 896];
  for (const d of dims) {
    cases.push([`base x·W₀ᵀ bf16 T=${T} d=${d}`, { M: T, N: d, K: d, transB: true, bType: 'bf16' }]);
    cases.push([`lora xa=x·Aᵀ T=${T} in=${d} r=${r}`, { M: T, N: r, K: d, transB: true }]);
    cases.push([`lora y+=s·xa·Bᵀ T=${T} out=${d} r=${r}`, { M: T, N: d, K: r, transB: true, alpha: 2 }]);
    cases.push([`lora g=dy·B T=${T} out=${d} r=${r}`, { M: T, N: r, K: d }]);
    cases.push([`lora dx+=s·g·A T=${T} in=${d} r=${r}`, { M: T, N: d, K: r, alpha: 2 }]);
    cases.push([`lora dA=s·gᵀ·x T=${T} in=${d} r=${r}`, { M: r, N: d, K: T, transA: true, alpha: 2 }]);
    cases.push([`lora dB=s·dyᵀ·xa T=${T} out=${d} r=${r}`, { M: d, N: r, K: T, transA: true, alpha: 2 }]);
    // the same skinny products without split-K / with a 64×64 tile, to show what the skinny path buys
    cases.push([`lora dA no-split 64x64 T=${T} in=${d} r=${r}`, { M: r, N: d, K: T, transA: true, alpha: 2 }, { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, splits: 1 }]);
  }
  let failed = 0;
  for (const [name, s, plan] of cases) {
    try {
      await matmulCase(gpu, name, s, plan);
    } catch (e) {
      failed++;
      emit({ case: name, error: String((e as Error)?.message ?? e).slice(0, 500) });
      if (gpu.lostReason) break;
    }
  }
  for (const d of dims) {
    try {
      await loraCase(gpu, T, d, r);
    } catch (e) {
      failed++;
      emit({ case: `lora T=${T} d=${d}`, error: String((e as Error)?.message ?? e).slice(0, 500) });
      if (gpu.lostReason) break;
    }
  }
  emit({ done: true, failed });
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  emit({ fatal: String((e as Error)?.stack ?? e).slice(0, 1000) });
  process.exit(2);
});
