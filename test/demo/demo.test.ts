// The shipped demo models, read by the engine exactly as PyTorch wrote them: the eval loss on held-out corpus
// text matches the value PyTorch computed from the same bf16 files (scripts/demo/eval_subset.py) within 1e-3.
// Uses the CLI's shipped names (--model demo, --model demo-tiny), so name resolution is tested too.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, rel, root } from '../cli/fixture-cases';

const dir = mkdtempSync(path.join(tmpdir(), 'weblora-demo-'));

describe('shipped demo models', () => {
  for (const [name, folder] of [['demo-tiny', 'weblora-demo-tiny'], ['demo', 'weblora-demo']]) {
    it(`${name}: eval loss equals PyTorch's on held-out text`, async () => {
      const want = JSON.parse(readFileSync(path.join(root, 'public/models', folder, 'eval-subset.json'), 'utf8'));
      const lines = readFileSync(path.join(root, 'public/models', folder, 'eval-heldout.jsonl'), 'utf8').split('\n').slice(0, want.examples);
      const data = path.join(dir, `${name}.jsonl`);
      writeFileSync(data, lines.join('\n') + '\n');
      const r = await cli(['eval', '--model', name, '--data', data, '--seq', String(want.seq), '--json']);
      expect(r.code, r.err.join('\n')).toBe(0);
      expect(r.json[0].tokens).toBe(want.tokens);
      expect(rel(r.json[0].loss, want.loss)).toBeLessThan(1e-3);
    });
  }

  it('trains LoRA on the shipped demo-define data by name', async () => {
    const out = path.join(dir, 'adapter');
    const r = await cli(['train', '--model', 'demo-tiny', '--data', 'demo-define', '--method', 'lora', '--steps', '3', '--batch', '2', '--seq', '32', '--lr', '1e-3', '--out', out, '--json']);
    expect(r.code, r.err.join('\n')).toBe(0);
    const steps = r.json.filter((j) => 'step' in j);
    expect(steps.map((j) => j.step)).toEqual([1, 2, 3]);
    expect(steps.every((j) => Number.isFinite(j.loss))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8')).peft_type).toBe('LORA');
  });
});
