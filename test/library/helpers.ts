// Small real PEFT adapters (the engine's own writers) and run records for the library tests.
import { serializeLoraAdapter, type LoraLayerWeights } from '../../src/engine/io/peft';
import { serializeVeraAdapter } from '../../src/engine/io/peft-vera';
import type { NewRecordInput, RunSettings } from '../../app/library/record';

const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 97.1 + i * 12.9898) * 0.1);

export function loraFiles(opts: { dora?: boolean; rslora?: boolean; baseModel?: string } = {}): Record<string, Uint8Array> {
  const r = 2, inDim = 6, outDim = 5;
  const layers = new Map<string, LoraLayerWeights>();
  for (const [i, module] of ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj'].entries()) {
    layers.set(module, {
      module, r, inDim, outDim, A: rand(r * inDim, i + 1), B: rand(outDim * r, i + 7),
      ...(opts.dora ? { magnitude: rand(outDim, i + 3).map((x) => 1 + x) } : {}),
    });
  }
  return serializeLoraAdapter({
    config: { r, alpha: 4, rslora: !!opts.rslora, targetModules: ['q_proj', 'v_proj'], fanInFanOut: false, baseModel: opts.baseModel ?? 'HuggingFaceTB/SmolLM2-135M', dora: opts.dora },
    layers,
  });
}

export function veraFiles(): Record<string, Uint8Array> {
  const r = 3, maxIn = 6, maxOut = 5;
  return serializeVeraAdapter({
    config: { r, targetModules: ['q_proj'], projectionSeed: 0, dInitial: 0.1, fanInFanOut: false, baseModel: 'gpt2' },
    A: rand(r * maxIn, 1), B: rand(maxOut * r, 2), maxIn, maxOut,
    layers: new Map([['model.layers.0.self_attn.q_proj', { lambdaD: rand(r, 3), lambdaB: rand(maxOut, 4) }]]),
  });
}

export const SETTINGS: RunSettings = {
  method: 'lora', r: 2, alpha: 4, targets: ['q_proj', 'v_proj'], seed: 1, steps: 4, batch: 2, seq: 16, lr: 2e-4,
  schedule: 'cosine', warmup: 1, options: {},
};

export function runInput(over: Partial<NewRecordInput> = {}): NewRecordInput {
  return {
    kind: 'adapter', method: 'lora', baseModel: 'HuggingFaceTB/SmolLM2-135M', settings: SETTINGS,
    history: [
      { step: 1, loss: 3.5, lr: 1e-4 },
      { step: 2, loss: 3.1, lr: 2e-4, valLoss: 3.3 },
      { step: 3, loss: 2.9, lr: 1.5e-4 },
      { step: 4, loss: 2.7, lr: 0.5e-4, valLoss: 3.0 },
    ],
    stats: { tokensPerSec: 1234.5, peakMemoryBytes: 5_000_000, trainableParams: 44 },
    files: loraFiles(), dataSize: 120, dataName: 'demo-style.jsonl',
    ...over,
  };
}
