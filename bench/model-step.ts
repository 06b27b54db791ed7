// The whole model at real sizes on the GPU: a random-weights checkpoint with a real model's shapes (bench/models.json),
// LoRA on every linear, then forward+backward time per micro-batch, memory, sanity of loss and gradients
// (finite, loss ≈ ln V for a near-uniform start, accumulate = 2× single), and KV-cache decode speed.
// Usage (GPU host): node scripts/build-cli.mjs bench/model-step.ts; node dist/model-step.js [model] [B] [T] [F32|BF16]
import { Gpu } from '../src/engine/gpu/runtime';
import { benchConfig, makeFiller, randomTensors } from './random-model';
import { CausalLM } from '../src/engine/model/causal-lm';
import { LoraModule } from '../src/engine/adapters/lora';

const [name = 'smollm2-135m', Bs = '4', Ts = '512', dtype = 'F32'] = process.argv.slice(2);
const B = Number(Bs), T = Number(Ts), N = B * T;
const cfg = benchConfig(name);
const gpu = await Gpu.create();
console.log(`device: ${gpu.info.description || gpu.info.vendor} cpuFallback=${gpu.info.cpuFallback}; ${name} ${dtype} B=${B} T=${T}`);

const fill = makeFiller();
const tensors = randomTensors(cfg, dtype as 'F32' | 'BF16', fill);
const { vocabSize: V } = cfg;
let t0 = performance.now();
const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors }, { maxBatch: B, maxSeq: T });
await gpu.sync();
console.log(`load ${((performance.now() - t0) / 1000).toFixed(1)} s; frozen ${(model.frozenBytes() / 2 ** 20).toFixed(0)} MiB, activations ${(model.activationBytes() / 2 ** 20).toFixed(0)} MiB`);
const mods = new Map<string, LoraModule>();
for (const l of model.linearLayers()) {
  const m = new LoraModule(gpu, l, N, { r: 16, alpha: 32, seed: 1 });
  m.setWeights(fill(16 * l.inDim, 1 / Math.sqrt(l.inDim)), fill(l.outDim * 16, 0.01));
  mods.set(l.name, m);
}
model.setAdapters(mods);
const ids = Uint32Array.from(fill(N, 0.5, 0.5), (x) => Math.floor(x * V) % V);
const labels = Int32Array.from({ length: N }, (_, i) => ((i + 1) % T === 0 ? -100 : ids[i + 1]));
const nLab = labels.filter((x) => x >= 0).length;

async function trainStep(accumulate: boolean) {
  model.uploadBatch({ ids, labels, B, T, lossScale: 1 / nLab });
  const step = gpu.step();
  if (!accumulate) step.clear(model.lossSum, 0, 4);
  await model.record(step, { backward: true, accumulate });
  step.submit();
}
async function gradSummary() {
  let sq = 0, finite = true;
  for (const m of mods.values()) for (const p of m.params()) {
    const g = await gpu.readF32(p.grad!, p.shape[0] * p.shape[1]);
    for (const x of g) { if (!Number.isFinite(x)) finite = false; sq += x * x; }
  }
  return { norm: Math.sqrt(sq), finite };
}
t0 = performance.now();
await trainStep(false);
const [loss1] = await gpu.readF32(model.lossSum, 1);
console.log(`first step (compiles pipelines) ${((performance.now() - t0) / 1000).toFixed(1)} s; loss ${loss1.toFixed(4)} (ln V = ${Math.log(V).toFixed(4)})`);
const g1 = await gradSummary();
await trainStep(true);
const g2 = await gradSummary();
const [loss2] = await gpu.readF32(model.lossSum, 1);
console.log(`grad norm ${g1.norm.toExponential(4)} finite=${g1.finite}; after accumulate ${g2.norm.toExponential(4)} (ratio ${(g2.norm / g1.norm).toFixed(6)}, want 2); loss sum ${(loss2 / loss1).toFixed(6)}× (want 2)`);
const reps = 5;
await gpu.sync();
t0 = performance.now();
for (let i = 0; i < reps; i++) await trainStep(false);
await gpu.sync();
const ms = (performance.now() - t0) / reps;
const flops = 6 * (model.frozenBytes() / (dtype === 'F32' ? 4 : 2)) * N; // rough: 6·params·tokens (frozen W still costs fwd + dx)
console.log(`train micro-batch fwd+bwd: ${ms.toFixed(1)} ms, ${(N / ms * 1000).toFixed(0)} tokens/s, ~${(flops / ms / 1e9).toFixed(1)} TFLOP/s (6·P·N estimate)`);
// forward only (eval)
t0 = performance.now();
for (let i = 0; i < reps; i++) {
  model.uploadBatch({ ids, labels, B, T, lossScale: 1 / nLab });
  const step = gpu.step();
  await model.record(step, { backward: false, accumulate: false });
  step.submit();
}
await gpu.sync();
console.log(`eval micro-batch fwd: ${((performance.now() - t0) / reps).toFixed(1)} ms`);
// decode
const prompt = Array.from(ids.slice(0, 64));
await model.generate(prompt, { maxNewTokens: 4, greedy: true, eosTokenIds: [] });
t0 = performance.now();
const out = await model.generate(prompt, { maxNewTokens: 64, greedy: true, eosTokenIds: [] });
const dt = performance.now() - t0;
console.log(`generate 64 tokens after a 64-token prompt: ${dt.toFixed(0)} ms (${(out.length / dt * 1000).toFixed(1)} tokens/s incl. prefill), first ids ${out.slice(0, 8)}`);
