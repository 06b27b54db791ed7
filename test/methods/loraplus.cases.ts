// LoRA+ (--method loraplus, ratio 16) against PEFT's create_loraplus_optimizer run (test/fixtures/llama_loraplus).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { cli, data, expectOf, fx, llamaModel, rel, replayMethod } from './replay';

describe('LoRA+ vs PEFT create_loraplus_optimizer', () => {
  it('eval of the initial adapter, then the 6-step training replay (B at lr×16)', async () => {
    const e = expectOf('llama_loraplus');
    const got = (await cli(['eval', '--model', llamaModel, '--adapter', path.join(fx, 'llama_loraplus/adapter'), '--data', data, '--seq', String(e.seq), '--json'])).json[0];
    expect(rel(got.loss, e.eval.adapter.loss)).toBeLessThan(1e-4);
    await replayMethod('llama_loraplus', 'loraplus', ['--loraplus-ratio', String(e.train.optimizer.loraplus_lr_ratio)]);
  }, 120_000);

  it('the ratio matters: plain LoRA on the same fixture does not match', async () => {
    await expect(replayMethod('llama_loraplus', 'lora')).rejects.toThrow();
  }, 120_000);
});
