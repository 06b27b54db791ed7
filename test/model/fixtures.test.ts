// The model against PyTorch + PEFT (test/fixtures/<model>/, made by scripts/make_fixtures.py): base and adapter
// logits of example 0, evaluation losses over the 6 examples, greedy generation, and the LoRA gradients of
// training step 1 (batch = examples 0 and 1, right-padded with eos, mean CE over label tokens).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CausalLM } from '../../src/engine/model/causal-lm';
import { loadModelFiles } from '../../src/engine/io/model-files';
import { nodeDirSource } from '../../src/engine/io/files';
import { readLoraAdapter, tensorToF32 } from '../../src/engine/io/peft';
import { parseSafetensors } from '../../src/engine/io/safetensors';
import { loraFromAdapter } from '../../src/engine/adapters/lora';
import { relL2, testGpu } from '../helpers/gpu';

const FIX = 'test/fixtures';

/** max |got − want| / max |want|, the error measure reported for logits */
function maxRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0, mag = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    err = Math.max(err, Math.abs(got[i] - want[i]));
    mag = Math.max(mag, Math.abs(want[i]));
  }
  return err / mag;
}

/** Σ CE over the predicted positions of each example (B = 1, T = its length, lossScale 1). */
async function evalSums(model: CausalLM, examples: number[][]): Promise<number[]> {
  const gpu = (model as any).gpu;
  const sums: number[] = [];
  for (const ex of examples) {
    const T = ex.length;
    const labels = Int32Array.from({ length: T }, (_, t) => (t + 1 < T ? ex[t + 1] : -100));
    gpu.upload(model.lossSum, new Float32Array(1));
    model.uploadBatch({ ids: Uint32Array.from(ex), labels, B: 1, T, lossScale: 1 });
    const step = gpu.step();
    await model.record(step, { backward: false, accumulate: false });
    step.submit();
    sums.push((await gpu.readF32(model.lossSum, 1))[0]);
  }
  return sums;
}

function trainBatch(examples: number[][], B: number, T: number, pad: number) {
  const ids = new Uint32Array(B * T).fill(pad);
  const labels = new Int32Array(B * T).fill(-100);
  let n = 0;
  for (let b = 0; b < B; b++) {
    const ex = examples[b];
    for (let t = 0; t < ex.length; t++) {
      ids[b * T + t] = ex[t];
      if (t + 1 < ex.length) {
        labels[b * T + t] = ex[t + 1];
        n++;
      }
    }
  }
  return { ids, labels, n };
}

const cases = [
  { name: 'llama', model: 'llama' },
  { name: 'llama3rope', model: 'llama3rope' },
  { name: 'qwen2', model: 'qwen2' },
  { name: 'gpt2', model: 'gpt2' },
  { name: 'llama_rslora', model: 'llama' }, // rsLoRA adapter on the llama base: s = α/√r
];

describe('CausalLM vs PyTorch fixtures', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const gpu = await testGpu();
      const expect_ = JSON.parse(readFileSync(`${FIX}/${c.name}/expect.json`, 'utf8'));
      const files = await loadModelFiles(nodeDirSource(`${FIX}/${c.model}/model`));
      const seq = expect_.train.seq as number;
      const model = await CausalLM.load(gpu, files, { maxBatch: expect_.train.batch, maxSeq: seq });
      const examples: number[][] = expect_.examples;
      const report: string[] = [];
      const base = c.name === c.model; // the method folders share the base model: its numbers are checked once

      const checkEval = async (which: 'base' | 'adapter' | 'trained') => {
        const e = expect_.eval[which];
        const sums = await evalSums(model, examples);
        const loss = sums.reduce((a, b) => a + b, 0) / e.tokens;
        const lossRel = Math.abs(loss - e.loss) / e.loss;
        const sumRel = Math.max(...sums.map((s, i) => Math.abs(s - e.per_example[i].sum) / e.per_example[i].sum));
        report.push(`${which} eval loss rel ${lossRel.toExponential(2)} (per-example max ${sumRel.toExponential(2)})`);
        expect(lossRel, `${which} eval loss ${loss} vs ${e.loss}`).toBeLessThan(1e-4);
        expect(sumRel).toBeLessThan(1e-4);
      };
      const checkLogits = async (key: string) => {
        if (!expect_.logits) return;
        const want = tensorToF32(parseSafetensors(readFileSync(`${FIX}/${c.name}/logits.safetensors`), 'logits').tensors.get(key)!);
        const ex = examples[expect_.logits.example];
        const got = await model.logits(Uint32Array.from(ex), 1, ex.length);
        const err = maxRel(got, want);
        report.push(`${key} max|Δ|/max|want| ${err.toExponential(2)}`);
        expect(err, key).toBeLessThan(1e-4);
      };
      const checkGenerate = async (key: 'base' | 'adapter') => {
        const g = expect_.generate;
        if (!g) return;
        const got = await model.generate(g.prompt_ids, { maxNewTokens: g.max_new_tokens, greedy: true, eosTokenIds: [] });
        expect(got, `greedy ${key}`).toEqual(g[key]);
        report.push(`greedy ${key} equal`);
      };

      if (base) {
        await checkLogits('logits');
        await checkEval('base');
        await checkGenerate('base');
      }
      const adapter = await readLoraAdapter(nodeDirSource(`${FIX}/${c.name}/adapter`));
      const modules = loraFromAdapter(gpu, model.linearLayers(), adapter, model.maxTokens);
      expect(modules.size).toBe(adapter.layers.size);
      model.setAdapters(modules);
      if (base) await checkLogits('logits_adapter');
      await checkEval('adapter');
      if (base) await checkGenerate('adapter');
      // the adapter PEFT trained for 6 steps, loaded into the same modules
      const trained = await readLoraAdapter(nodeDirSource(`${FIX}/${c.name}/trained`));
      for (const [name, w] of trained.layers) modules.get(name)!.setWeights(w.A, w.B);
      await checkEval('trained');
      for (const [name, w] of adapter.layers) modules.get(name)!.setWeights(w.A, w.B);

      // gradients of step 1
      const log0 = expect_.train.log[0];
      const B = expect_.train.batch;
      const { ids, labels, n } = trainBatch(log0.examples.map((i: number) => examples[i]), B, seq, files.modelConfig.eosTokenIds[0]);
      expect(n).toBe(log0.label_tokens);
      gpu.upload(model.lossSum, new Float32Array(1));
      model.uploadBatch({ ids, labels, B, T: seq, lossScale: 1 / n });
      const step = gpu.step();
      await model.record(step, { backward: true, accumulate: false });
      step.submit();
      const loss = (await gpu.readF32(model.lossSum, 1))[0];
      const lossRel = Math.abs(loss - log0.ce) / log0.ce;
      expect(lossRel, 'step-1 loss').toBeLessThan(1e-4);
      const grads = parseSafetensors(readFileSync(`${FIX}/${c.name}/grads.safetensors`), 'grads').tensors;
      let worst = 0, worstName = '', checked = 0;
      const all: number[] = [], allWant: number[] = [];
      for (const [name, mod] of modules)
        for (const p of mod.params()) {
          const key = `base_model.model.${name}.${p.name}`;
          const want = tensorToF32(grads.get(key)!);
          const got = await gpu.readF32(p.grad!, want.length);
          const e = relL2(got, want);
          if (e > worst) [worst, worstName] = [e, key];
          all.push(...got);
          allWant.push(...want);
          checked++;
        }
      expect(checked).toBe(grads.size);
      report.push(`step-1 loss rel ${lossRel.toExponential(2)}, grads relL2 all ${relL2(all, allWant).toExponential(2)}, worst tensor ${worst.toExponential(2)} (${worstName.replace('base_model.model.', '')})`);
      console.log(`${c.name}: ${report.join('; ')}`);
      expect(worst, worstName).toBeLessThan(1e-4);
    });
  }
});
