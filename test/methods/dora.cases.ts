// DoRA (--method dora; PEFT use_dora) against PEFT's DoraLinearLayer: eval of the initial and trained adapters,
// the 6-step training replay (A, B and lora_magnitude_vector), and the merge (rows scaled by m/‖W₀ + s·B·A‖).
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/io/safetensors';
import { tensorToF32 } from '../../src/engine/io/peft';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, expectOf, fx, llamaModel, rel, replayMethod } from './replay';

describe('DoRA vs PEFT', () => {
  const e = expectOf('llama_dora');
  const seq = String(e.seq);

  it('eval of the PEFT adapter (initial, trained): loss within 1e-4', async () => {
    for (const k of ['adapter', 'trained'] as const) {
      const got = (await cli(['eval', '--model', llamaModel, '--adapter', path.join(fx, 'llama_dora', k), '--data', data, '--seq', seq, '--json'])).json[0];
      console.log(`[llama_dora] eval ${k} rel err ${rel(got.loss, e.eval[k].loss).toExponential(2)}`);
      expect(rel(got.loss, e.eval[k].loss)).toBeLessThan(1e-4);
    }
  }, 60_000);

  it('6-step training replay; the written config has use_dora', async () => {
    const { out } = await replayMethod('llama_dora', 'dora');
    const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg.use_dora).toBe(true);
    expect(cfg.peft_type).toBe('LORA');
  }, 120_000);

  // DoRA rescales every weight of an adapted row (c = m/‖·‖ ≠ 1), so a bf16 merge re-rounds all of them (measured
  // 1.2e-4 on the loss): the exact check merges into an F32 copy of the same (bf16-valued) base.
  it('merge of the trained DoRA adapter into an F32 copy of the base = PEFT eval with the adapter', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weblora-dora-merge-'));
    const base32 = path.join(dir, 'base32');
    mkdirSync(base32);
    for (const f of readdirSync(llamaModel)) {
      if (!f.endsWith('.safetensors')) copyFileSync(path.join(llamaModel, f), path.join(base32, f));
      else {
        const st = parseSafetensors(new Uint8Array(readFileSync(path.join(llamaModel, f))), f);
        const ts = [...st.tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: tensorToF32(t) }));
        writeFileSync(path.join(base32, f), serializeSafetensors(ts, st.metadata));
      }
    }
    const out = path.join(dir, 'merged');
    await cli(['merge', '--model', base32, '--adapter', path.join(fx, 'llama_dora/trained'), '--out', out]);
    const merged = (await cli(['eval', '--model', out, '--data', data, '--seq', seq, '--json'])).json[0];
    console.log(`[llama_dora] merged (f32) eval vs PEFT trained eval rel err ${rel(merged.loss, e.eval.trained.loss).toExponential(2)}`);
    expect(rel(merged.loss, e.eval.trained.loss)).toBeLessThan(1e-5);
  }, 60_000);

  it('--method lora refuses a DoRA adapter', async () => {
    await expect(replayMethod('llama_dora', 'lora')).rejects.toThrow(/use_dora/);
  }, 60_000);
});
