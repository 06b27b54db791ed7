// The CLI end to end against the PyTorch + PEFT fixtures (scripts/make_fixtures.py): eval losses, a 6-step training
// replay (per-step losses and the trained adapter), greedy generation and merge, for Llama (BF16), Llama-3 rope
// scaling (F32), Qwen2 (F16, q/k/v biases) and GPT-2 (Conv1D, fan_in_fan_out).
//
// Shared by test/cli/fixtures-*.test.ts (split so each file stays near a minute on SwiftShader and they run in
// parallel). They call main() in-process, so the device and its compiled pipelines are shared (SwiftShader compiles
// are the slow part); test/cli/fixtures-qwen2-gpt2.test.ts also spawns the bundled CLI once.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/engine/cli';
import { parseSafetensors } from '../../src/engine/io/safetensors';
import { tensorToF32 } from '../../src/engine/io/peft';
import { relL2 } from '../helpers/gpu';

export const root = path.resolve(__dirname, '../..');
export const fx = path.join(root, 'test/fixtures');
const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-cli-fx-'));
export const data = path.join(fx, 'data.jsonl');
export const expectOf = (name: string) => JSON.parse(readFileSync(path.join(fx, name, 'expect.json'), 'utf8'));
export const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

/** Runs main() in-process; returns stdout lines parsed as JSON, and the stderr lines. */
export async function cli(args: string[]): Promise<{ code: number; json: any[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  if (code !== 0) throw new Error(`weblora ${args.join(' ')} → exit ${code}: ${err.join(' / ')}`);
  return { code, json: out.map((l) => JSON.parse(l)), err };
}

function tensors(file: string): Map<string, Float32Array> {
  const st = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  return new Map([...st.tensors].map(([k, t]) => [k, tensorToF32(t)]));
}

// merged weights are rounded once to the checkpoint's dtype (bf16/f16 for llama/qwen2); measured on these fixtures the
// merged eval still agrees with the adapter eval to < 1e-4 relative (bf16 4.7e-7, f16 3.8e-5, f32 ~1e-8)
const MERGE_TOL = 1e-4;

export function fixtureCases(names: string[]) {
  for (const name of names) {
    describe(name, () => {
      const e = expectOf(name);
      const model = path.join(fx, name, 'model');
      const adapter = path.join(fx, name, 'adapter');
      const seq = String(e.seq);

      it('eval --json, base and --adapter: loss within 1e-4 relative', async () => {
        const base = (await cli(['eval', '--model', model, '--data', data, '--seq', seq, '--json'])).json[0];
        const withAd = (await cli(['eval', '--model', model, '--adapter', adapter, '--data', data, '--seq', seq, '--json'])).json[0];
        expect(base.tokens).toBe(e.eval.base.tokens);
        expect(withAd.tokens).toBe(e.eval.adapter.tokens);
        console.log(`[${name}] eval rel err: base ${rel(base.loss, e.eval.base.loss).toExponential(2)}, adapter ${rel(withAd.loss, e.eval.adapter.loss).toExponential(2)}`);
        expect(rel(base.loss, e.eval.base.loss), `base ${base.loss} vs ${e.eval.base.loss}`).toBeLessThan(1e-4);
        expect(rel(withAd.loss, e.eval.adapter.loss), `adapter ${withAd.loss} vs ${e.eval.adapter.loss}`).toBeLessThan(1e-4);
      });

      it(`train replays the ${e.train.steps}-step PyTorch run: per-step loss 1e-4, trained adapter 1e-3 rel L2`, async () => {
        await replayTrain(name, model, adapter, e, path.join(fx, name, 'trained'));
      });

      it('generate --greedy --prompt-ids --json: the same ids as transformers (base and adapter)', async () => {
        const g = e.generate;
        const args = ['generate', '--model', model, '--prompt-ids', g.prompt_ids.join(','), '--max-new-tokens', String(g.max_new_tokens), '--greedy', '--ignore-eos', '--json'];
        const base = (await cli(args)).json[0];
        const withAd = (await cli([...args, '--adapter', adapter])).json[0];
        expect(base.ids).toEqual(g.base);
        expect(withAd.ids).toEqual(g.adapter);
        expect(typeof base.text).toBe('string');
      });

      it('merge, then eval of the merged folder = eval with the adapter', async () => {
        const out = path.join(tmp, `${name}-merged`);
        await cli(['merge', '--model', model, '--adapter', adapter, '--out', out]);
        expect(readdirSync(out).sort()).toEqual(readdirSync(model).sort());
        const merged = (await cli(['eval', '--model', out, '--data', data, '--seq', seq, '--json'])).json[0];
        expect(merged.tokens).toBe(e.eval.adapter.tokens);
        console.log(`[${name}] merged (${e.saved_dtype}) eval vs adapter eval rel err ${rel(merged.loss, e.eval.adapter.loss).toExponential(2)}`);
        expect(rel(merged.loss, e.eval.adapter.loss), `merged ${merged.loss} vs adapter ${e.eval.adapter.loss}`).toBeLessThan(MERGE_TOL);
      });
    });
  }

}

/**
 * `weblora train --init-adapter ADAPTER` with the fixture's hyper-parameters; checks every step's loss and lr and the
 * written adapter against the PyTorch run. `batch`/`gradAccum` may split the fixture's batch into micro-batches.
 */
export async function replayTrain(label: string, model: string, adapter: string, e: any, trainedDir: string, o: { batch?: number; gradAccum?: number } = {}) {
  const t = e.train;
  const out = path.join(tmp, `${label}-trained-${o.gradAccum ?? 1}`);
  const r = await cli([
    'train', '--model', model, '--data', data, '--method', 'lora', '--init-adapter', adapter,
    '--steps', String(t.steps), '--batch', String(o.batch ?? t.batch), '--seq', String(t.seq), '--lr', String(t.optimizer.lr),
    '--schedule', 'linear', '--warmup', String(t.schedule.warmup), '--weight-decay', String(t.optimizer.weight_decay),
    '--max-grad-norm', String(t.max_grad_norm), '--grad-accum', String(o.gradAccum ?? 1), '--no-shuffle', '--out', out, '--json', '--log-every', '4',
  ]);
  expect(r.json.map((x) => x.step)).toEqual(t.log.map((x: any) => x.step));
  r.json.forEach((x, k) => {
    expect(rel(x.loss, t.log[k].loss), `step ${k + 1}: ${x.loss} vs ${t.log[k].loss}`).toBeLessThan(1e-4);
    expect(Math.abs(x.lr - t.log[k].lr)).toBeLessThan(1e-12);
  });
  const want = tensors(path.join(trainedDir, 'adapter_model.safetensors'));
  const got = tensors(path.join(out, 'adapter_model.safetensors'));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  let worst = 0;
  for (const [k, w] of want) worst = Math.max(worst, relL2(got.get(k)!, w));
  const worstLoss = Math.max(...r.json.map((x, k) => rel(x.loss, t.log[k].loss)));
  console.log(`[${label}] train: worst per-step loss rel err ${worstLoss.toExponential(2)}, worst trained-tensor rel L2 ${worst.toExponential(2)}`);
  expect(worst).toBeLessThan(1e-3);
  const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
  const want_cfg = JSON.parse(readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
  for (const k of ['peft_type', 'r', 'lora_alpha', 'fan_in_fan_out', 'use_rslora', 'target_modules']) expect(cfg[k], k).toEqual(want_cfg[k]);
  return out;
}
