// The CLI end to end against the PyTorch + PEFT fixtures (scripts/make_fixtures.py): Llama (BF16 weights, GQA,
// untied head) and Llama with llama3 rope scaling (F32). Cases in fixture-cases.ts.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { cli, data, expectOf, fixtureCases, fx, rel, replayTrain } from './fixture-cases';

describe('weblora CLI on the PyTorch fixtures: llama, llama3rope', () => {
  fixtureCases(['llama', 'llama3rope']);

  it('gradient accumulation: --batch 1 --grad-accum 2 replays the batch-2 run (loss scale 1/step label tokens)', async () => {
    await replayTrain('llama accum', path.join(fx, 'llama/model'), path.join(fx, 'llama/adapter'), expectOf('llama'), path.join(fx, 'llama/trained'), { batch: 1, gradAccum: 2 });
  });

  it('rsLoRA (use_rslora, s = α/√r): eval of the PEFT adapters and the training replay', async () => {
    const e = expectOf('llama_rslora');
    const model = path.join(fx, 'llama/model');
    for (const k of ['adapter', 'trained'] as const) {
      const got = (await cli(['eval', '--model', model, '--adapter', path.join(fx, 'llama_rslora', k), '--data', data, '--seq', String(e.seq), '--json'])).json[0];
      console.log(`[llama_rslora] eval ${k} rel err ${rel(got.loss, e.eval[k].loss).toExponential(2)}`);
      expect(rel(got.loss, e.eval[k].loss)).toBeLessThan(1e-4);
    }
    await replayTrain('llama_rslora', model, path.join(fx, 'llama_rslora/adapter'), e, path.join(fx, 'llama_rslora/trained'));
  });
});
