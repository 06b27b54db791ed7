// Shared by test/methods/*.cases.ts: `weblora train --method <m> --init-adapter <fixture>/adapter` with the fixture's
// hyper-parameters, checked step by step against the PyTorch + PEFT run (loss 1e-4 relative) and the written
// adapter against <fixture>/trained (every tensor 1e-3 relative L2).
import { expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, expectOf, fx, rel } from '../cli/fixture-cases';
import { parseSafetensors } from '../../src/engine/io/safetensors';
import { tensorToF32 } from '../../src/engine/io/peft';
import { relL2 } from '../helpers/gpu';

export { cli, data, expectOf, fx, rel };
export const llamaModel = path.join(fx, 'llama/model');

export function tensors(file: string): Map<string, Float32Array> {
  const st = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  return new Map([...st.tensors].map(([k, t]) => [k, tensorToF32(t)]));
}

export async function replayMethod(fixture: string, method: string, extra: string[] = []) {
  const e = expectOf(fixture);
  const t = e.train;
  const out = path.join(mkdtempSync(path.join(tmpdir(), `weblora-${method}-`)), 'trained');
  const r = await cli([
    'train', '--model', llamaModel, '--data', data, '--method', method, '--init-adapter', path.join(fx, fixture, 'adapter'),
    '--steps', String(t.steps), '--batch', String(t.batch), '--seq', String(t.seq), '--lr', String(t.optimizer.lr),
    '--schedule', 'linear', '--warmup', String(t.schedule.warmup), '--weight-decay', String(t.optimizer.weight_decay ?? t.optimizer.loraplus_weight_decay),
    '--max-grad-norm', String(t.max_grad_norm), '--no-shuffle', '--out', out, '--json', '--log-every', '6', ...extra,
  ]);
  expect(r.json.map((x) => x.step)).toEqual(t.log.map((x: any) => x.step));
  const lossErr = r.json.map((x, k) => rel(x.loss, t.log[k].loss));
  r.json.forEach((x, k) => expect(Math.abs(x.lr - t.log[k].lr)).toBeLessThan(1e-12));
  const want = tensors(path.join(fx, fixture, 'trained', 'adapter_model.safetensors'));
  const got = tensors(path.join(out, 'adapter_model.safetensors'));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  let worst = 0;
  for (const [k, w] of want) worst = Math.max(worst, relL2(got.get(k)!, w));
  console.log(`[${fixture}] --method ${method}: per-step loss rel err ${lossErr.map((x) => x.toExponential(1)).join(' ')}; worst trained-tensor rel L2 ${worst.toExponential(2)}`);
  expect(Math.max(...lossErr)).toBeLessThan(1e-4);
  expect(worst).toBeLessThan(1e-3);
  return { out, e };
}
