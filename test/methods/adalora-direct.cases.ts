// AdaLoRA against PEFT's tuners/adalora on test/fixtures/llama_adalora, driving the MethodRun directly (model, AdamW
// and the hooks in the trainer's order: backward → beforeOptimizer → AdamW → afterOptimizer → submit → afterStep):
// eval of the initial and trained adapters, the step-1 gradients (orthogonal regulariser included), and the 6-step
// replay: loss with the regulariser per step, budget / mask flag / rank pattern per step, the trained (truncated) file.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM } from '../../src/engine/model/causal-lm';
import { loadModelFiles } from '../../src/engine/io/model-files';
import { nodeDirSource, memorySource } from '../../src/engine/io/files';
import { parseSafetensors } from '../../src/engine/io/safetensors';
import { tensorToF32 } from '../../src/engine/io/peft';
import { AdamW } from '../../src/engine/train/optimizer';
import { evaluateLoss, type Batch, type TrainOptions } from '../../src/engine/train/trainer';
import { lrAtStep } from '../../src/engine/train/schedules';
import { resolveOptions, type MethodContext } from '../../src/engine/adapters/method';
import { adaloraMethod, type AdaLoraRun } from '../../src/engine/adapters/adalora';
import { relL2, testGpu } from '../helpers/gpu';

const FX = path.resolve(__dirname, '../fixtures');
const e = JSON.parse(readFileSync(path.join(FX, 'llama_adalora/expect.json'), 'utf8'));
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const B = 2, T = 24;

function tensors(file: string): Map<string, Float32Array> {
  const st = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  return new Map([...st.tensors].map(([k, t]) => [k, tensorToF32(t)]));
}

/** The fixture's examples as the trainer's data: right-padded with 0, labels shifted, −100 elsewhere. */
function fixtureData(examples: number[][]) {
  const batch = (idx: number[]): Batch => {
    const ids = new Uint32Array(idx.length * T), labels = new Int32Array(idx.length * T).fill(-100);
    let n = 0;
    idx.forEach((i, b) => examples[i].forEach((id, t) => {
      ids[b * T + t] = id;
      if (t + 1 < examples[i].length) (labels[b * T + t] = examples[i][t + 1]), n++;
    }));
    return { ids, labels, nLabelTokens: n };
  };
  return { count: examples.length, batch };
}

async function setup(train: boolean) {
  const gpu = await testGpu();
  const files = await loadModelFiles(nodeDirSource(path.join(FX, 'llama/model')));
  const model = await CausalLM.load(gpu, files as any, { maxBatch: B, maxSeq: T });
  const t = e.train;
  const trainOpts: TrainOptions = {
    steps: t.steps, batch: B, seq: T, lr: t.optimizer.lr, schedule: 'linear', warmup: t.schedule.warmup, gradAccum: 1, shuffle: false, seed: 0,
    weightDecay: t.optimizer.weight_decay, maxGradNorm: t.max_grad_norm, beta1: 0.9, beta2: 0.999, eps: 1e-8,
  };
  const ctx: MethodContext = {
    gpu, model, layers: model.linearLayers(), maxTokens: B * T, options: resolveOptions(adaloraMethod, {}), log: () => {},
    common: { r: 8, alpha: 8, rslora: false, targets: [], seed: 0, steps: t.steps, baseModel: '../model', fanInFanOut: false },
    ...(train ? { train: trainOpts } : {}),
  };
  return { gpu, model, ctx, trainOpts };
}

describe('AdaLoRA vs PEFT (direct)', () => {
  // (the eval of the PEFT adapters is in adalora.cases.ts, through the CLI)
  it('6-step replay: step-1 grads, loss with orth reg, budgets/masks/rank patterns, trained adapter', async () => {
    const { gpu, model, ctx, trainOpts } = await setup(true);
    const run = (await adaloraMethod.load!(ctx, nodeDirSource(path.join(FX, 'llama_adalora/adapter')), 'adapter')) as AdaLoraRun;
    model.setAdapters(run.modules);
    const data = fixtureData(e.examples);
    const opt = new AdamW(gpu, run.params, trainOpts);
    const lossErr: number[] = [];
    for (const rec of e.train.log) {
      const k = rec.step as number;
      const b = data.batch(rec.examples);
      model.uploadBatch({ ids: b.ids, labels: b.labels, B, T, lossScale: 1 / b.nLabelTokens });
      const step = gpu.step(`train ${k}`);
      step.clear(model.lossSum, 0, 4);
      await model.record(step, { backward: true, accumulate: false });
      await run.beforeOptimizer!(step, model.lossSum, k);
      await opt.record(step, lrAtStep(trainOpts.lr, { name: 'linear', warmup: trainOpts.warmup, total: trainOpts.steps }, k));
      await run.afterOptimizer!(step, k);
      step.submit();
      const [loss] = await gpu.readF32(model.lossSum, 1);
      await run.afterStep!(k);
      if (k === 1) {
        // the optimizer leaves the grads alone: these are the step's gradients, orthogonal regulariser included
        const want = tensors(path.join(FX, 'llama_adalora/grads.safetensors'));
        let worst = 0;
        for (const p of run.params) {
          const key = `base_model.model.${p.key}`;
          const got = await gpu.readF32(p.grad!, p.shape.reduce((a, c) => a * c, 1));
          worst = Math.max(worst, relL2(got, want.get(key)!));
        }
        console.log(`[llama_adalora] step-1 grads worst rel L2 ${worst.toExponential(2)}`);
        expect(worst).toBeLessThan(1e-4);
      }
      lossErr.push(rel(loss, rec.loss));
      const a = run.allocations[run.allocations.length - 1];
      expect(a.step).toBe(k);
      expect(a.budget, `budget at step ${k}`).toBe(rec.adalora_budget);
      expect(a.mask, `mask flag at step ${k}`).toBe(rec.adalora_mask);
      const want = rec.rank_pattern ? Object.fromEntries(Object.entries(rec.rank_pattern).map(([n, v]) => [n.replace(/\.default$/, ''), v])) : null;
      expect(a.rankPattern, `rank pattern at step ${k}`).toEqual(want);
    }
    console.log(`[llama_adalora] per-step loss rel err ${lossErr.map((x) => x.toExponential(1)).join(' ')}`);
    expect(Math.max(...lossErr)).toBeLessThan(1e-4);

    const files = await run.exportAdapter();
    const got = new Map([...parseSafetensors(files['adapter_model.safetensors'], 'out').tensors].map(([k, t]) => [k, tensorToF32(t)]));
    const want = tensors(path.join(FX, 'llama_adalora/trained/adapter_model.safetensors'));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    let worst = 0;
    for (const [k, w] of want) {
      expect(got.get(k)!.length, k).toBe(w.length);
      worst = Math.max(worst, relL2(got.get(k)!, w));
    }
    console.log(`[llama_adalora] trained tensors worst rel L2 ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3);
    const cfg = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
    const wantCfg = JSON.parse(readFileSync(path.join(FX, 'llama_adalora/trained/adapter_config.json'), 'utf8'));
    expect(cfg).toEqual({ ...wantCfg, base_model_name_or_path: '../model' });
    // the written files read back (truncated ranks, scale from init_r) give PEFT's trained eval loss
    const back = await adaloraMethod.load!({ ...ctx, train: undefined }, memorySource(files), 'written');
    model.setAdapters(back.modules);
    const { loss } = await evaluateLoss(gpu, model, data, B, T);
    expect(rel(loss, e.eval.trained.loss)).toBeLessThan(1e-4);
  }, 240_000);

  it("training from PEFT's truncated file resizes each layer to its kept ranks (PEFT's resize_modules_by_rank_pattern)", async () => {
    const { gpu, model, ctx, trainOpts } = await setup(true);
    const dir = path.join(FX, 'llama_adalora/trained');
    const run = (await adaloraMethod.load!(ctx, nodeDirSource(dir), 'trained')) as AdaLoraRun;
    const pattern = run.config.rankPattern!;
    for (const [name, m] of run.adaModules) expect(m.r, name).toBe(pattern[`${name}.lora_E`].filter(Boolean).length);
    // the budget starts from the ranks there are; scale stays α / (init_r + 1e-5)
    expect(run.allocator!.initBudget).toBe(Object.values(pattern).reduce((a, v) => a + v.filter(Boolean).length, 0));
    model.setAdapters(run.modules);
    const opt = new AdamW(gpu, run.params, trainOpts);
    const b = fixtureData(e.examples).batch([0, 1]);
    model.uploadBatch({ ids: b.ids, labels: b.labels, B, T, lossScale: 1 / b.nLabelTokens });
    const step = gpu.step('train 1');
    step.clear(model.lossSum, 0, 4);
    await model.record(step, { backward: true, accumulate: false });
    await run.beforeOptimizer!(step, model.lossSum, 1);
    await opt.record(step, 1e-3);
    await run.afterOptimizer!(step, 1);
    step.submit();
    await run.afterStep!(1); // step 1 ≤ tinit: no masking, the file's pattern stays
    const files = await run.exportAdapter();
    const cfg = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
    expect(cfg.rank_pattern).toEqual(pattern);
    const got = parseSafetensors(files['adapter_model.safetensors'], 'out').tensors;
    const want = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'adapter_model.safetensors'))), 'trained').tensors;
    for (const [k, t] of want) expect(got.get(k)!.shape, k).toEqual(t.shape);
  }, 120_000);
});
