import { describe, expect, it } from 'vitest';
import { hyperparameterRows, isHubId, lossCurvePng, modelCardText, niceTicks, smooth } from '../../app/library/model-card';
import { makeRecord } from '../../app/library/record';
import { runInput, SETTINGS } from './helpers';

describe('model card', () => {
  it('has Hub front matter, the hyperparameters, the data and how to load it', () => {
    const rec = makeRecord(runInput({ name: 'Style | demo', settings: { ...SETTINGS, method: 'loraplus', options: { 'loraplus-ratio': 16 } }, method: 'loraplus' }), Date.UTC(2025, 5, 1));
    const text = modelCardText(rec, { hasLossCurve: true, isCheckpoint: false });
    const front = text.split('\n---\n')[0];
    expect(front).toBe(['---', 'library_name: peft', 'base_model: HuggingFaceTB/SmolLM2-135M', 'tags:', '- "base_model:adapter:HuggingFaceTB/SmolLM2-135M"', '- lora', '- loraplus', '- peft', '- weblora', 'pipeline_tag: text-generation'].join('\n'));
    expect(text).toContain('# Style | demo');
    expect(text).toContain('| Method | LoRA+ |');
    expect(text).toContain('| --loraplus-ratio | 16 |');
    expect(text).toContain('| Batch × sequence | 2 × 16 |');
    expect(text).toContain('| Learning rate | 0.0002, cosine schedule, 1 warmup step |');
    expect(text).toContain('| Training data | 120 examples (demo-style.jsonl) |');
    expect(text).toContain('| Trainable parameters | 44 |');
    expect(text).toContain('| Throughput | 1,235 tokens/s |');
    expect(text).toContain('| Final validation loss | 3.0000 |');
    expect(text).toContain('PeftModel.from_pretrained(base, "path/to/this/folder")');
    expect(text).toContain('AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M")');
    expect(text).toContain('loss_curve.png');
    expect(text).not.toContain('weblora-state');
  });

  it('leaves a local path out of base_model and escapes table cells', () => {
    const rec = makeRecord(runInput({ baseModel: '/home/me/models/my model', name: 'a|b' }));
    const text = modelCardText(rec, { hasLossCurve: false, isCheckpoint: true });
    expect(text).not.toMatch(/^base_model:/m);
    expect(text).not.toContain('base_model:adapter');
    expect(text).toContain('`/home/me/models/my model`');
    expect(text).not.toContain('loss_curve.png');
    expect(text).toContain('weblora-state.safetensors');
    rec.settings = { ...SETTINGS, targets: ['a|b'] };
    expect(modelCardText(rec, { hasLossCurve: false, isCheckpoint: false })).toContain('| Target modules | a\\|b |');
  });

  it('an imported adapter shows what its config says', () => {
    const rec = makeRecord(runInput({ settings: null, history: [], source: 'imported', stats: { tokensPerSec: null, trainableParams: 44 }, dataSize: null, dataName: null }));
    expect(hyperparameterRows(rec)).toEqual([['Method', 'LoRA'], ['Rank r', '2'], ['Alpha', '4'], ['Target modules', 'q_proj, v_proj'], ['Trainable parameters', '44']]);
    expect(modelCardText(rec, { hasLossCurve: false, isCheckpoint: false })).toMatch(/imported into WebLoRA/);
  });

  it('recognises Hub ids', () => {
    for (const ok of ['gpt2', 'Qwen/Qwen2.5-0.5B', 'HuggingFaceTB/SmolLM2-135M']) expect(isHubId(ok), ok).toBe(true);
    for (const bad of ['', '/abs/path', 'a/b/c', '../x', 'C:\\models', 'my model']) expect(isHubId(bad), bad).toBe(false);
  });
});

describe('loss curve helpers', () => {
  it('niceTicks gives round values inside the range', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(2.63, 3.51, 5)).toEqual([2.8, 3, 3.2, 3.4]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
  it('smooth is bias-corrected (a constant stays constant) and lags a step', () => {
    expect(smooth([2, 2, 2], 0.9).map((x) => +x.toFixed(12))).toEqual([2, 2, 2]);
    const s = smooth([0, 0, 10], 0.5);
    expect(s[2]).toBeCloseTo(10 * 0.5 / (1 - 0.125), 12);
  });
  it('no canvas in Node: the picture is absent, not an error', async () => {
    expect(await lossCurvePng(runInput().history)).toBeNull();
  });
});
