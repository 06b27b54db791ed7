// Where a training step's GPU time goes, kernel by kernel, without timestamp queries.
// One LoRA training step (TrainingSession, exactly as bench/train.ts runs it) is captured: every dispatch, copy and
// clear it records, in order, with its pipeline, buffers, grid, uniform words and the phase it belongs to
// (forward / head+loss / backward / optimizer). Then:
//   - the whole captured step is replayed as one submit (GPU time of a step, no CPU recording in it);
//   - each distinct op (same pipeline, grid, uniform words) is replayed alone, many times in one submit, and its
//     time × its count in the step gives its share. Σ shares vs the whole replay says how much overlap/caching skews it.
// Prints a JSON line per group (sorted by total) and per phase, and a summary line.
//   node scripts/build-cli.mjs bench/profile.ts && node dist/profile.js [--model qwen2.5-0.5b] [--batch 8] [--seq 256]
//     [--top 40] [--out FILE]
import { appendFileSync } from 'node:fs';
import { Gpu, Step } from '../src/engine/gpu/runtime';
import { CausalLM } from '../src/engine/model/causal-lm';
import { TrainingSession } from '../src/engine/train/session';
import { makeBatch } from '../src/engine/data/batch';
import { benchConfig, makeFiller, randomTensors } from './random-model';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const modelName = arg('model', 'qwen2.5-0.5b');
const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '256'));
const top = Number(arg('top', '40'));
const out = arg('out', '');
const targetMs = Number(arg('target-ms', '6'));
const chunkRows = Number(arg('logit-chunk-rows', '0')); // 0: the model's default (64 MiB of logits)
const emit = (rec: Record<string, unknown>) => {
  const line = JSON.stringify(rec);
  console.log(line);
  if (out) appendFileSync(out, line + '\n');
};

// ---- capture: patch the runtime's recording calls (bench only) ----
type Op =
  | { kind: 'dispatch'; pipeline: GPUComputePipeline; buffers: GPUBuffer[]; grid: [number, number, number]; phase: string }
  | { kind: 'copy'; src: GPUBuffer; so: number; dst: GPUBuffer; dOff: number; bytes: number; phase: string }
  | { kind: 'clear'; buf: GPUBuffer; off: number; bytes?: number; phase: string };
const logs = new WeakMap<Step, { label: string; ops: Op[] }>();
const allLogs: { label: string; ops: Op[] }[] = [];
const source = new WeakMap<GPUComputePipeline, { code: string; entry: string }>();
const uniWords = new WeakMap<GPUBuffer, number[]>();
let phase = 'other';
let capturing = true;

const gp = Gpu.prototype as any;
const origStep = gp.step, origPipeline = gp.pipeline, origUniform = gp.uniform;
gp.step = function (label = 'step') {
  const s = origStep.call(this, label);
  if (capturing) {
    const l = { label, ops: [] as Op[] };
    logs.set(s, l);
    allLogs.push(l);
  }
  return s;
};
gp.pipeline = async function (code: string, entry = 'main', constants: Record<string, number> = {}) {
  const p = await origPipeline.call(this, code, entry, constants);
  source.set(p, { code, entry: entry + (Object.keys(constants).length ? JSON.stringify(constants) : '') });
  return p;
};
gp.uniform = function (words: ArrayLike<number>, kind?: string, floats?: ArrayLike<number>) {
  const b = origUniform.call(this, words, kind, floats);
  uniWords.set(b, [...Array.from(words), ...(floats ? Array.from(floats) : [])]);
  return b;
};
const sp = Step.prototype as any;
const origDispatch = sp.dispatch, origCopy = sp.copy, origClear = sp.clear;
sp.dispatch = function (pipeline: GPUComputePipeline, buffers: GPUBuffer[], x: number, y = 1, z = 1) {
  logs.get(this)?.ops.push({ kind: 'dispatch', pipeline, buffers, grid: [x, y, z], phase });
  return origDispatch.call(this, pipeline, buffers, x, y, z);
};
sp.copy = function (src: GPUBuffer, so: number, dst: GPUBuffer, dOff: number, bytes: number) {
  logs.get(this)?.ops.push({ kind: 'copy', src, so, dst, dOff, bytes, phase });
  return origCopy.call(this, src, so, dst, dOff, bytes);
};
sp.clear = function (buf: GPUBuffer, off = 0, bytes?: number) {
  logs.get(this)?.ops.push({ kind: 'clear', buf, off, bytes, phase });
  return origClear.call(this, buf, off, bytes);
};
// phases from the model's own structure
const mp = CausalLM.prototype as any;
const wrap = (name: string, before: string, after: string) => {
  const orig = mp[name];
  mp[name] = async function (...a: unknown[]) {
    phase = before;
    try { return await orig.apply(this, a); } finally { phase = after; }
  };
};
wrap('forward', 'forward', 'forward');
wrap('headAndLoss', 'head+loss', 'backward');
wrap('record', 'forward', 'optimizer');

// ---- run a few training steps ----
const gpu = await Gpu.create();
const cfg = benchConfig(modelName);
const fill = makeFiller();
const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors: randomTensors(cfg, 'BF16', fill) } as any, { maxBatch: B, maxSeq: T, ...(chunkRows ? { logitChunkBytes: chunkRows * cfg.vocabSize * 4 } : {}) });
const examples = Array.from({ length: 2 * B }, () => {
  const ids = Array.from(fill(T, 0.5, 0.5), (x) => Math.floor(x * cfg.vocabSize) % cfg.vocabSize);
  return { ids, labels: ids, promptTokens: 0, truncated: false };
});
const data = { count: examples.length, batch: (idx: number[]) => makeBatch(idx.map((i) => examples[i]), idx.length, T, 0) };
const session = await TrainingSession.create({
  gpu, model, arch: cfg.arch, baseModel: `random-${modelName}`, data, log: () => {},
  settings: {
    method: 'lora', r: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1,
    options: {}, steps: 3, batch: B, seq: T, lr: 1e-4, schedule: 'constant', warmup: 0, gradAccum: 1, shuffle: false,
    weightDecay: 0, maxGradNorm: 1, logEvery: 3,
  },
} as any);
const tRec0 = performance.now();
await session.run();
await gpu.sync();
capturing = false;
const train = allLogs.filter((l) => l.label.startsWith('train '));
const cap = train[train.length - 1];
if (!cap) throw new Error('no training step captured');
const dispatches = cap.ops.filter((o) => o.kind === 'dispatch').length;

// ---- replay ----
function record(step: Step, op: Op) {
  if (op.kind === 'dispatch') origDispatch.call(step, op.pipeline, op.buffers, ...op.grid);
  else if (op.kind === 'copy') origCopy.call(step, op.src, op.so, op.dst, op.dOff, op.bytes);
  else origClear.call(step, op.buf, op.off, op.bytes);
}
async function timeOps(ops: Op[], reps: number): Promise<number> {
  const step = gpu.step('replay');
  for (let r = 0; r < reps; r++) for (const op of ops) record(step, op);
  await gpu.sync();
  const t0 = performance.now();
  step.submit();
  await gpu.sync();
  return performance.now() - t0;
}
async function best(ops: Op[], reps: number, tries = 3) {
  let b = Infinity;
  for (let i = 0; i < tries; i++) b = Math.min(b, await timeOps(ops, reps));
  return b;
}
await timeOps(cap.ops, 1);
const wholeMs = (await best(cap.ops, 1, 5));
const whole3 = (await best(cap.ops, 3, 2)) / 3;

function label(op: Op): { key: string; name: string; flops?: number; bytes?: number } {
  if (op.kind === 'copy') return { key: `copy ${op.bytes}`, name: `copy ${(op.bytes / 2 ** 20).toFixed(2)} MiB`, bytes: 2 * op.bytes };
  if (op.kind === 'clear') return { key: `clear ${op.bytes}`, name: `clear ${((op.bytes ?? op.buf.size) / 2 ** 20).toFixed(2)} MiB`, bytes: op.bytes ?? op.buf.size };
  const src = source.get(op.pipeline);
  const u = uniWords.get(op.buffers[0]) ?? [];
  const sizes = op.buffers.map((b) => b.size).join(',');
  let name = src?.entry ?? '?';
  let flops: number | undefined;
  const first = src?.code.split('\n')[0] ?? '';
  if (first.startsWith('// generated by src/kernels/matmul.ts: ')) {
    const v = JSON.parse(first.slice(first.indexOf('{')));
    const [M, N, K, kChunk] = u;
    const splits = op.grid[2];
    const pl = v.plan;
    name = `mm M${M} N${N} K${K} ${v.transA ? 'Aᵀ' : 'A'}·${v.transB ? 'Bᵀ' : 'B'} ${v.bType} ${pl.BM}x${pl.BN}x${pl.BK}/${pl.TM}x${pl.TN}${splits > 1 ? ` split${splits}(k${kChunk})` : ''}${v.accumulate ? ' acc' : ''} wg${op.grid.join('x')}`;
    flops = 2 * M * N * K;
  } else {
    const head = (src?.code ?? '').split('\n').find((l) => l.startsWith('//') && !l.includes('Threads per workgroup'))?.slice(3, 50) ?? '';
    name = `${name} wg${op.grid.join('x')} u[${u.slice(0, 4).join(',')}] (${head})`;
  }
  return { key: `${name}|${sizes}|${u.join(',')}`, name, flops };
}

interface Group { name: string; op: Op; count: number; phases: Set<string>; flops?: number; bytes?: number; usEach?: number }
const groups = new Map<string, Group>();
for (const op of cap.ops) {
  const l = label(op);
  let g = groups.get(l.key);
  if (!g) groups.set(l.key, (g = { name: l.name, op, count: 0, phases: new Set(), flops: l.flops, bytes: l.bytes }));
  g.count++;
  g.phases.add(op.phase);
}
for (const g of groups.values()) {
  const probe = await best([g.op], 10, 1);
  const reps = Math.max(10, Math.min(3000, Math.ceil((targetMs / Math.max(probe, 0.001)) * 10)));
  g.usEach = ((await best([g.op], reps, 2)) / reps) * 1000;
}
const list = [...groups.values()].sort((a, b) => b.usEach! * b.count - a.usEach! * a.count);
const sumMs = list.reduce((a, g) => a + (g.usEach! * g.count) / 1000, 0);
const byPhase = new Map<string, number>();
const byKind = new Map<string, number>();
for (const g of list) {
  const ms = (g.usEach! * g.count) / 1000;
  // a group used by several phases: split by its count in each
  for (const ph of g.phases) {
    const n = cap.ops.filter((o) => o.phase === ph && label(o).name === g.name).length;
    byPhase.set(ph, (byPhase.get(ph) ?? 0) + (ms * n) / g.count);
  }
  const kind = g.name.startsWith('mm ') ? (g.name.includes('bf16') ? 'matmul bf16 (frozen W)' : 'matmul f32 (LoRA)')
    : g.name.startsWith('main') ? g.name.slice(g.name.indexOf('(') + 1, g.name.indexOf('(') + 30) : g.name.split(' ')[0];
  byKind.set(kind, (byKind.get(kind) ?? 0) + ms);
}
emit({ profile: modelName, B, T, chunkRows: (model as any).chunkRows, device: gpu.info.description || gpu.info.vendor, ops: cap.ops.length, dispatches, groups: list.length, wholeStepMs: +wholeMs.toFixed(2), wholeStepMsRep3: +whole3.toFixed(2), sumOfGroupsMs: +sumMs.toFixed(2), recordMs: +(performance.now() - tRec0).toFixed(0) });
for (const [ph, ms] of byPhase) emit({ phase: ph, ms: +ms.toFixed(2) });
for (const [k, ms] of [...byKind].sort((a, b) => b[1] - a[1])) emit({ kind: k, ms: +ms.toFixed(2) });
for (const g of list.slice(0, top)) {
  const ms = (g.usEach! * g.count) / 1000;
  emit({
    op: g.name, count: g.count, usEach: +g.usEach!.toFixed(1), totalMs: +ms.toFixed(2), pct: +((100 * ms) / sumMs).toFixed(1),
    phases: [...g.phases].join(','),
    ...(g.flops ? { tflops: +(g.flops / (g.usEach! * 1e6)).toFixed(2) } : {}),
    ...(g.bytes ? { GBps: +(g.bytes / (g.usEach! * 1e3)).toFixed(0) } : {}),
  });
}
process.exit(0);
