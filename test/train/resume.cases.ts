// Checkpoints: `train --out` writes weblora.json + weblora-state.safetensors beside the PEFT files, and
// `train --resume` continues exactly: 2 steps, then 2 more from the checkpoint, equal an uninterrupted 4-step run
// (same losses and the same adapter), for plain LoRA and for a method with state of its own (AdaLoRA's importance
// averages and mask).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, fx, tensors } from '../methods/replay';
import { relL2 } from '../helpers/gpu';

const model = path.join(fx, 'llama/model');
const common = ['--model', model, '--data', data, '--batch', '2', '--seq', '24', '--lr', '0.01', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '2'];

async function straightVsResumed(method: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'weblora-resume-'));
  const full = await cli(['train', ...common, ...method, '--steps', '4', '--out', path.join(dir, 'full')]);
  const half = await cli(['train', ...common, ...method, '--steps', '2', '--out', path.join(dir, 'half')]);
  expect(readdirSync(path.join(dir, 'half')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'weblora-state.safetensors', 'weblora.json']);
  const info = JSON.parse(readFileSync(path.join(dir, 'half', 'weblora.json'), 'utf8'));
  expect(info.step).toBe(2);
  expect(info.history.map((h: { step: number }) => h.step)).toEqual([1, 2]);
  const rest = await cli(['train', '--model', model, '--data', data, '--resume', path.join(dir, 'half'), '--steps', '4', '--json', '--out', path.join(dir, 'resumed')]);
  expect(full.code).toBe(0);
  expect(rest.code).toBe(0);
  expect(rest.json.map((x) => x.step)).toEqual([3, 4]);
  const losses = [...half.json, ...rest.json].map((x) => x.loss);
  const worstLoss = Math.max(...losses.map((l, i) => Math.abs(l - full.json[i].loss) / Math.abs(full.json[i].loss)));
  const a = tensors(path.join(dir, 'full', 'adapter_model.safetensors'));
  const b = tensors(path.join(dir, 'resumed', 'adapter_model.safetensors'));
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let worst = 0;
  for (const [k, v] of a) worst = Math.max(worst, relL2(b.get(k)!, v));
  console.log(`[resume ${method.join(' ')}] loss rel err ${worstLoss.toExponential(2)}, adapter rel L2 ${worst.toExponential(2)}`);
  expect(worstLoss).toBeLessThan(1e-6);
  expect(worst).toBeLessThan(1e-6);
}

describe('train --resume', () => {
  it('LoRA: 2 + 2 resumed steps = 4 straight steps', () => straightVsResumed(['--method', 'lora', '--rank', '4']), 240_000);
  it('AdaLoRA (importance averages and mask in the method state)', () =>
    straightVsResumed(['--method', 'adalora', '--init-r', '4', '--target-r', '2', '--total-step', '4', '--tinit', '1', '--tfinal', '1']), 240_000);
});
