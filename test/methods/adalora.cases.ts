// AdaLoRA (--method adalora) through the CLI against PEFT's tuners/adalora (test/fixtures/llama_adalora): eval of the
// initial and trained (rank-truncated) adapters, the 6-step training replay (loss with the orthogonal regulariser,
// the trained file truncated by the same rank_pattern), a new run from PEFT's init, and --resume equal to one run.
// The per-step budgets, mask flags and rank patterns are checked in adalora-direct.test.ts (the CLI does not print them).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/engine/cli';
import { cli, data, expectOf, fx, llamaModel, rel, replayMethod, tensors } from './replay';
import { relL2 } from '../helpers/gpu';

const e = expectOf('llama_adalora');
const seq = String(e.seq);
const tmp = () => mkdtempSync(path.join(tmpdir(), 'weblora-adalora-'));

describe('AdaLoRA vs PEFT (CLI)', () => {
  it('eval of the PEFT adapters (initial, trained with truncated ranks): loss within 1e-4', async () => {
    for (const k of ['adapter', 'trained'] as const) {
      const got = (await cli(['eval', '--model', llamaModel, '--adapter', path.join(fx, 'llama_adalora', k), '--data', data, '--seq', seq, '--json'])).json[0];
      console.log(`[llama_adalora] eval ${k} rel err ${rel(got.loss, e.eval[k].loss).toExponential(2)}`);
      expect(got.tokens).toBe(e.eval[k].tokens);
      expect(rel(got.loss, e.eval[k].loss)).toBeLessThan(1e-4);
    }
  }, 120_000);

  it("6-step replay (schedule from the adapter's config): losses, truncated tensors and rank_pattern as PEFT's", async () => {
    const { out } = await replayMethod('llama_adalora', 'adalora');
    const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    const want = JSON.parse(readFileSync(path.join(fx, 'llama_adalora/trained/adapter_config.json'), 'utf8'));
    for (const k of ['peft_type', 'init_r', 'target_r', 'tinit', 'tfinal', 'deltaT', 'total_step', 'beta1', 'beta2', 'orth_reg_weight', 'lora_alpha', 'target_modules', 'rank_pattern'])
      expect(cfg[k], k).toEqual(want[k]);
  }, 240_000);

  it('--rank is refused (r comes from --init-r); a bad schedule is named', async () => {
    const errs: string[] = [];
    const run = (extra: string[]) => main(['train', '--model', llamaModel, '--data', data, '--method', 'adalora', '--steps', '2', '--batch', '1', '--seq', '8', '--lr', '1e-3', '--out', tmp(), ...extra], { out: () => {}, err: (l) => errs.push(l) });
    expect(await run(['--rank', '4'])).toBe(1);
    expect(errs.pop()).toMatch(/--rank does not apply to --method adalora/);
    expect(await run(['--tinit', '2'])).toBe(1);
    expect(errs.pop()).toMatch(/tinit 2 leaves no budgeting phase/);
    expect(await run(['--init-r', '4', '--target-r', '5'])).toBe(1);
    expect(errs.pop()).toMatch(/--target-r 5 exceeds/);
  }, 60_000);

  it('a new run (PEFT init: E = 0, A, B ~ N(0, 0.02)): step 1 is the base CE plus the regulariser; the budget ends at target_r per layer', async () => {
    const out = path.join(tmp(), 'new');
    const r = await cli(['train', '--model', llamaModel, '--data', data, '--method', 'adalora', '--init-r', '5', '--target-r', '3', '--targets', 'q_proj,v_proj,down_proj',
      '--steps', '3', '--batch', '2', '--seq', seq, '--lr', '0.01', '--schedule', 'constant', '--no-shuffle', '--out', out, '--json', '--log-every', '3']);
    expect(r.json.length).toBe(3);
    // E = 0: the CE of step 1 (examples 0, 1) is the base model's; the rest is w·mean‖·‖_F ≈ 0.5·√5 for near-zero A, B
    const pe = expectOf('llama').eval.base.per_example;
    const ce = (pe[0].sum + pe[1].sum) / (pe[0].tokens + pe[1].tokens);
    expect(Math.abs(r.json[0].loss - ce - 0.5 * Math.sqrt(5))).toBeLessThan(0.05);
    const t = tensors(path.join(out, 'adapter_model.safetensors'));
    const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg.init_r).toBe(5);
    expect(cfg.total_step).toBe(3);
    const layers = Object.keys(cfg.rank_pattern);
    expect(layers.length).toBe(6);
    // step 3 = total_step: the final allocation keeps target_r · #layers ranks, and the file holds exactly those
    const kept = layers.reduce((a, k) => a + cfg.rank_pattern[k].filter(Boolean).length, 0);
    expect(kept).toBe(3 * 6);
    for (const k of layers) expect(t.get(`base_model.model.${k}`)!.length).toBe(cfg.rank_pattern[k].filter(Boolean).length);
    // the written adapter evaluates (eval reads ADALORA files)
    const ev = (await cli(['eval', '--model', llamaModel, '--adapter', out, '--data', data, '--seq', seq, '--json'])).json[0];
    expect(Number.isFinite(ev.loss)).toBe(true);
  }, 240_000);

  it('--resume after 3 of 6 steps (inside the budget schedule) equals one 6-step run', async () => {
    const flags = ['--model', llamaModel, '--data', data, '--method', 'adalora', '--init-r', '6', '--target-r', '4', '--tinit', '1', '--tfinal', '1', '--total-step', '6',
      '--targets', 'q_proj,v_proj,down_proj', '--batch', '2', '--seq', seq, '--lr', '0.005', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '1'];
    const [one, half, rest] = [path.join(tmp(), 'one'), path.join(tmp(), 'half'), path.join(tmp(), 'rest')];
    const a = await cli(['train', ...flags, '--steps', '6', '--out', one]);
    await cli(['train', ...flags, '--steps', '3', '--out', half]);
    const b = await cli(['train', '--model', llamaModel, '--data', data, '--resume', half, '--steps', '6', '--out', rest, '--json', '--log-every', '1']);
    expect(b.json.map((x) => x.step)).toEqual([4, 5, 6]);
    const [ta, tb] = [tensors(path.join(one, 'adapter_model.safetensors')), tensors(path.join(rest, 'adapter_model.safetensors'))];
    expect([...tb.keys()].sort()).toEqual([...ta.keys()].sort());
    const lossErr = Math.max(...b.json.map((x, i) => rel(x.loss, a.json[3 + i].loss)));
    const tensorErr = Math.max(...[...ta].map(([k, v]) => relL2(tb.get(k)!, v)));
    console.log(`[adalora resume] steps 4-6 loss rel err ${lossErr.toExponential(2)}, tensors rel L2 ${tensorErr.toExponential(2)}`);
    // the same GPU work in the same order: equal to the last bit (without the importance averages restored, 3e-6)
    expect(lossErr).toBeLessThan(5e-7);
    expect(tensorErr).toBeLessThan(1e-7);
    const cfg = (d: string) => JSON.parse(readFileSync(path.join(d, 'adapter_config.json'), 'utf8')).rank_pattern;
    expect(cfg(rest)).toEqual(cfg(one));
  }, 300_000);
});
