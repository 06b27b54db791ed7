// Training throughput of the engine, the WebLoRA side of bench/run-h100.sh: LoRA r=16 (alpha 32) on every
// linear layer of a random-weights model with a real model's shapes, batch 8 × 256 tokens, full optimizer
// steps (forward, backward, global grad-norm clipping, AdamW), one submit per step, the loss read back once
// at the end. Prints one JSON line per model, the same fields as bench/peft_bench.py.
//   node scripts/build-cli.mjs bench/train.ts && node dist/train.js [--models smollm2-135m,qwen2.5-0.5b] [--steps 20]
import { Gpu } from '../src/engine/gpu/runtime';
import { CausalLM } from '../src/engine/model/causal-lm';
import { LoraModule } from '../src/engine/adapters/lora';
import { AdamW } from '../src/engine/train/optimizer';
import { benchConfig, makeFiller, randomTensors } from './random-model';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const models = arg('models', 'smollm2-135m,qwen2.5-0.5b').split(',');
const steps = Number(arg('steps', '20'));
const B = Number(arg('batch', '8'));
const T = Number(arg('seq', '256'));
const rank = 16;
const gpu = await Gpu.create();

for (const name of models) {
  const cfg = benchConfig(name);
  const fill = makeFiller();
  const before = gpu.allocatedBytes;
  const model = await CausalLM.load(gpu, { modelConfig: cfg, tensors: randomTensors(cfg, 'BF16', fill) } as any, { maxBatch: B, maxSeq: T });
  const modules = new Map<string, LoraModule>();
  for (const layer of model.linearLayers()) modules.set(layer.name, new LoraModule(gpu, layer, B * T, { r: rank, alpha: 32, seed: 1 }));
  model.setAdapters(modules);
  const params = [...modules.values()].flatMap((m) => m.params());
  const optimizer = new AdamW(gpu, params, { weightDecay: 0, maxGradNorm: 1 });
  const V = cfg.vocabSize;
  const ids = Uint32Array.from(fill(B * T, 0.5, 0.5), (x) => Math.floor(x * V) % V);
  const labels = Int32Array.from({ length: B * T }, (_, i) => ((i + 1) % T === 0 ? -100 : ids[i + 1]));
  const nLabels = labels.filter((x) => x >= 0).length;

  const trainStep = async () => {
    model.uploadBatch({ ids, labels, B, T, lossScale: 1 / nLabels });
    const step = gpu.step();
    step.clear(model.lossSum, 0, 4);
    await model.record(step, { backward: true, accumulate: false });
    await optimizer.record(step, 1e-4);
    step.submit();
    return step.dispatches;
  };
  for (let i = 0; i < 3; i++) await trainStep(); // compile pipelines, warm caches
  await gpu.sync();
  const t0 = performance.now();
  let dispatches = 0;
  for (let i = 0; i < steps; i++) dispatches = await trainStep();
  const [loss] = await gpu.readF32(model.lossSum, 1);
  const dt = (performance.now() - t0) / steps;
  const trainable = params.filter((p) => p.grad).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  console.log(JSON.stringify({
    impl: 'weblora', model: name, batch: B, seq: T, rank,
    ms_per_step: +dt.toFixed(2), tokens_per_s: +((B * T) / dt * 1000).toFixed(1),
    gpu_gib: +((gpu.allocatedBytes - before) / 2 ** 30).toFixed(3),
    frozen_gib: +(model.frozenBytes() / 2 ** 30).toFixed(3),
    trainable, dispatches_per_step: dispatches, loss: +loss.toFixed(4),
    device: gpu.info.description || gpu.info.vendor,
  }));
}
process.exit(0);
