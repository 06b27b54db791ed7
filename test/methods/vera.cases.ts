// VeRA (--method vera; PEFT VERA with saved projections) against PEFT's tuners/vera: eval of the initial and trained
// adapters, the 6-step training replay (λ_b, λ_d trained; vera_A/vera_B carried through unchanged), and a new run
// that writes seeded projections PEFT's file layout expects.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, expectOf, fx, llamaModel, rel, replayMethod, tensors } from './replay';

describe('VeRA vs PEFT', () => {
  const e = expectOf('llama_vera');
  const seq = String(e.seq);

  it('eval of the PEFT adapter (initial, trained): loss within 1e-4', async () => {
    for (const k of ['adapter', 'trained'] as const) {
      const got = (await cli(['eval', '--model', llamaModel, '--adapter', path.join(fx, 'llama_vera', k), '--data', data, '--seq', seq, '--json'])).json[0];
      console.log(`[llama_vera] eval ${k} rel err ${rel(got.loss, e.eval[k].loss).toExponential(2)}`);
      expect(rel(got.loss, e.eval[k].loss)).toBeLessThan(1e-4);
    }
  }, 60_000);

  it('6-step training replay; projections unchanged, config as PEFT writes it', async () => {
    const { out } = await replayMethod('llama_vera', 'vera');
    const init = tensors(path.join(fx, 'llama_vera/adapter/adapter_model.safetensors'));
    const got = tensors(path.join(out, 'adapter_model.safetensors'));
    for (const k of ['base_model.vera_A', 'base_model.vera_B']) expect(got.get(k)).toEqual(init.get(k));
    const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    const want = JSON.parse(readFileSync(path.join(fx, 'llama_vera/adapter/adapter_config.json'), 'utf8'));
    for (const k of ['peft_type', 'r', 'target_modules', 'projection_prng_key', 'save_projection', 'd_initial']) expect(cfg[k], k).toEqual(want[k]);
  }, 120_000);

  it('a new run (--rank 8 --projection-seed 3 --d-initial 0.2): projections [r, max_in]/[max_out, r], λ_d init, loss falls', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'weblora-vera-new-')), 'ad');
    const r = await cli(['train', '--model', llamaModel, '--data', data, '--method', 'vera', '--rank', '8', '--projection-seed', '3', '--d-initial', '0.2',
      '--targets', 'q_proj,v_proj,down_proj', '--steps', '4', '--batch', '2', '--seq', seq, '--lr', '0.05', '--schedule', 'constant', '--no-shuffle', '--out', out, '--json', '--log-every', '4']);
    expect(r.json.length).toBe(4);
    const t = tensors(path.join(out, 'adapter_model.safetensors'));
    expect(t.get('base_model.vera_A')!.length).toBe(8 * 72); // max_in = down_proj's 72
    expect(t.get('base_model.vera_B')!.length).toBe(40 * 8); // max_out = q_proj's 40
    const bound = Math.sqrt(6 / 72);
    expect(Math.max(...t.get('base_model.vera_A')!.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(t.get('base_model.model.model.layers.0.self_attn.q_proj.vera_lambda_d')!.length).toBe(8);
    // an eval with the written adapter runs and differs from the base (λ_b moved off zero)
    const withAd = (await cli(['eval', '--model', llamaModel, '--adapter', out, '--data', data, '--seq', seq, '--json'])).json[0];
    const base = (await cli(['eval', '--model', llamaModel, '--data', data, '--seq', seq, '--json'])).json[0];
    expect(withAd.loss).not.toBe(base.loss);
    // step 1 (examples 0, 1) runs with λ_b = 0: exactly the base model's loss on those two examples
    const pe = expectOf('llama').eval.base.per_example;
    expect(rel(r.json[0].loss, (pe[0].sum + pe[1].sum) / (pe[0].tokens + pe[1].tokens))).toBeLessThan(1e-5);
    expect(r.json[3].loss).toBeLessThan(r.json[0].loss); // step 4 sees examples 0, 1 again: trained
  }, 120_000);
});
