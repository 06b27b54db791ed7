// Training throughput and memory of every adapter method, the WebLoRA side of bench/run-h100.sh (PyTorch + PEFT is
// bench/peft_bench.py, same shapes, same methods.json). A random-weights model with a real model's shapes
// (bench/models.json, bf16 weights), every linear layer adapted (methods.json's targets and hyper-parameters), batch
// 8 × 256 tokens of random text. Each method runs in a TrainingSession, as `weblora train` and the app run it: the
// registry's method, the Trainer with the method's hooks; forward, backward, global grad-norm clipping (1.0), AdamW
// (or the method's optimizer), lr 1e-4 constant, the loss read back every --read-every steps.
//
// Each (model, method) runs in its own process with a fresh device: its peak memory is its own, and one method
// that fails cannot take the others down. Prints one JSON line each (appended to --out too):
//   {side: 'weblora', model, method, tokens_per_s, step_ms, trainable_params, peak_gpu_bytes, steps, ...}
// Timing: the --warmup steps (pipeline compilation; a multiple of --read-every) are excluded; the clock runs from the
// readback that ends them to the last readback. Method setup (create(): LoRA-FA's inverse, LoRA-drop's first phase)
// is reported apart as setup_ms. peak_gpu_bytes: the most the engine had allocated (weights, activations, adapters,
// gradients, optimizer moments, scratch): WebGPU has no memory query, so the engine counts its own buffers.
//   node scripts/build-cli.mjs bench/train.ts && node dist/train.js [--models smollm2-135m] [--methods lora,dora]
//     [--steps 20] [--warmup 10] [--read-every 10] [--batch 8] [--seq 256] [--out FILE]
//   smoke test (SwiftShader): node dist/train.js --models tiny-smoke --steps 2 --warmup 1 --read-every 1
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { Gpu } from '../src/engine/gpu/runtime';
import { CausalLM } from '../src/engine/model/causal-lm';
import { METHODS } from '../src/engine/adapters/registry';
import { METHOD_NAMES, resolveOptions, selectLayers, type MethodName } from '../src/engine/adapters/method';
import { TrainingSession } from '../src/engine/train/session';
import { makeBatch } from '../src/engine/data/batch';
import { benchConfig, makeFiller, randomTensors } from './random-model';

interface BenchMethod {
  title: string;
  r?: number;
  alpha?: number;
  options: Record<string, number | boolean>;
  trains: string;
}
const bench: { targets: string[]; methods: Record<string, BenchMethod> } = JSON.parse(readFileSync(new URL('../bench/methods.json', import.meta.url), 'utf8'));

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const models = arg('models', 'smollm2-135m').split(',');
const methods = arg('methods', METHOD_NAMES.join(',')).split(',');
const steps = Number(arg('steps', '20'));
const warmup = Number(arg('warmup', '10'));
const readEvery = Number(arg('read-every', '10'));
const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '256'));
const lr = Number(arg('lr', '1e-4'));
const out = arg('out', '');
const timeoutS = Number(arg('timeout-s', '480'));

for (const m of methods) if (!bench.methods[m]) throw new Error(`unknown method ${m}; known: ${Object.keys(bench.methods).join(', ')}`);
if (!(warmup >= 1 && readEvery >= 1 && warmup % readEvery === 0 && steps % readEvery === 0))
  throw new Error(`--warmup (${warmup}) and --steps (${steps}) must be positive multiples of --read-every (${readEvery}): the clock starts and stops at readbacks`);

const emit = (rec: Record<string, unknown>) => {
  const line = JSON.stringify(rec);
  console.log(line);
  if (out) appendFileSync(out, line + '\n');
};

/** `count` examples of T random tokens; the Trainer's data source (and LoRA-drop's first-phase sample). */
function randomData(vocab: number, count: number, fill: ReturnType<typeof makeFiller>) {
  const examples = Array.from({ length: count }, () => {
    const ids = Array.from(fill(T, 0.5, 0.5), (x) => Math.floor(x * vocab) % vocab);
    return { ids, labels: ids, promptTokens: 0, truncated: false };
  });
  return { count, batch: (idx: number[]) => makeBatch(idx.map((i) => examples[i]), idx.length, T, 0) };
}

async function benchOne(modelName: string, name: MethodName) {
  const spec = METHODS[name];
  const base = { side: 'weblora', model: modelName, method: name, batch: B, seq: T };
  if (!spec) return emit({ ...base, skipped: 'not in the method registry yet' });
  const m = bench.methods[name];
  for (const k of Object.keys(m.options))
    if (!(k in spec.options)) throw new Error(`bench/methods.json: ${name} has no option --${k} (its options: ${Object.keys(spec.options).join(', ') || 'none'})`);
  const options = resolveOptions(spec, m.options);

  const gpu = await Gpu.create();
  const cfg = benchConfig(modelName);
  const fill = makeFiller();
  const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors: randomTensors(cfg, 'BF16', fill) } as any, { maxBatch: B, maxSeq: T });
  const data = randomData(cfg.vocabSize, 8 * B, fill);
  const t0 = performance.now();
  const session = await TrainingSession.create({
    gpu, model, arch: cfg.arch, baseModel: `random-${modelName}`, data, log: (s) => process.stderr.write(`[${name}] ${s}\n`),
    settings: {
      method: name, r: m.r, alpha: m.alpha, targets: bench.targets, seed: 1, options: m.options,
      steps: warmup + steps, batch: B, seq: T, lr, schedule: 'constant', warmup: 0, gradAccum: 1, shuffle: false,
      weightDecay: 0, maxGradNorm: 1, logEvery: readEvery,
    },
  });
  await gpu.sync();
  const setupMs = performance.now() - t0;

  let peak = gpu.allocatedBytes, tWarm = NaN, tEnd = NaN, loss = NaN;
  await session.run((recs) => {
    const now = performance.now();
    peak = Math.max(peak, gpu.allocatedBytes);
    const last = recs[recs.length - 1];
    if (last.step === warmup) tWarm = now;
    tEnd = now;
    loss = last.loss;
  });
  const ms = (tEnd - tWarm) / steps;
  emit({
    ...base, tokens_per_s: +((B * T) / ms * 1000).toFixed(1), step_ms: +ms.toFixed(2),
    trainable_params: session.trainableParams, count_params: spec.countParams(selectLayers(model.linearLayers(), bench.targets), session.common, options),
    peak_gpu_bytes: peak, frozen_bytes: model.frozenBytes(), setup_ms: +setupMs.toFixed(0),
    steps, warmup, read_every: readEvery, loss: +loss.toFixed(4), describe: session.method.describe,
    device: gpu.info.description || gpu.info.vendor,
  });
}

const one = process.argv.indexOf('--one');
if (one > 0) {
  await benchOne(process.argv[one + 1], process.argv[one + 2] as MethodName);
  process.exit(0);
}
// the parent: one child process per (model, method), this same script with --one
const passOn = process.argv.slice(2).filter((_, i, a) => !['--models', '--methods', '--out'].includes(a[i]) && !['--models', '--methods', '--out'].includes(a[i - 1]));
for (const modelName of models)
  for (const name of methods) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...passOn, '--one', modelName, name], {
      stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20,
    });
    const lines = (child.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) {
      console.log(l);
      if (out) appendFileSync(out, l + '\n');
    }
    if (!lines.length)
      emit({ side: 'weblora', model: modelName, method: name, error: child.error ? String(child.error) : `exit ${child.status ?? child.signal}` });
  }
process.exit(0);
