// `weblora train --method loradrop` on the tiny Llama fixture: phase 1 is extra (only phase 2's steps are JSON
// lines), the selection and importances are saved in weblora.json, the file is a plain PEFT LORA adapter whose
// dropped layers carry their shape's shared pair, eval reads it, and --resume continues phase 2 with the sharing.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, llamaModel, tensors } from './replay';

const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

describe('weblora train --method loradrop', () => {
  it('phase 1 extra, selection saved, PEFT LORA file with shared copies, eval, resume', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-loradrop-cli-'));
    const out = path.join(tmp, 'a'), out2 = path.join(tmp, 'b');
    const common = ['--model', llamaModel, '--data', data, '--seq', '24', '--json', '--log-every', '2'];
    const r = await cli(['train', ...common, '--method', 'loradrop', '--targets', TARGETS.join(','), '--rank', '4', '--alpha', '8', '--steps', '4',
      '--batch', '2', '--lr', '0.02', '--drop-sample', '0.5', '--drop-threshold', '0.7', '--seed', '3', '--out', out]);
    // the contract's lines are phase 2's: exactly --steps of them, keys unchanged (a {"loradrop": …} report line may join them)
    const steps = r.json.filter((x) => !('loradrop' in x));
    expect(steps.map((x) => x.step)).toEqual([1, 2, 3, 4]);
    for (const x of steps) expect(Object.keys(x)).toEqual(['step', 'loss', 'lr']);
    // phase 1: ⌈0.5 × 4⌉ = 2 steps on 3 of the 6 examples, logged apart
    expect(r.err.filter((l) => /^LoRA-drop phase 1 step \d\/2 /.test(l))).toHaveLength(2);
    expect(r.err.some((l) => /LoRA-drop phase 1: .* 2 steps on 3 of 6 examples/.test(l))).toBe(true);

    const info = JSON.parse(readFileSync(path.join(out, 'weblora.json'), 'utf8'));
    const rep = info.method_state.loradrop;
    const names = Object.keys(rep.importance);
    expect(names).toHaveLength(14);
    expect(Object.values<number>(rep.importance).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const byImportance = [...names].sort((a, b) => rep.importance[b] - rep.importance[a]);
    expect(rep.kept).toEqual(byImportance.slice(0, rep.kept.length));
    const keptShare = rep.kept.reduce((a: number, n: string) => a + rep.importance[n], 0);
    expect(keptShare).toBeGreaterThanOrEqual(0.7);
    expect(keptShare - rep.importance[rep.kept[rep.kept.length - 1]]).toBeLessThan(0.7); // the last one was needed
    const shared = Object.values<string[]>(rep.shared);
    expect(rep.kept.length + shared.flat().length).toBe(14);
    expect(rep.phase1).toHaveLength(2);
    for (const line of r.json.filter((x) => 'loradrop' in x)) expect(line.loradrop).toEqual(rep);

    // the file: PEFT LORA, every targeted module, each shared group's users identical
    const cfg = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, use_dora: false, target_modules: [...TARGETS].sort() });
    const t = tensors(path.join(out, 'adapter_model.safetensors'));
    expect(t.size).toBe(28);
    const key = (m: string, w: string) => `base_model.model.${m}.lora_${w}.weight`;
    for (const g of shared)
      for (const u of g.slice(1)) for (const w of ['A', 'B']) expect(Array.from(t.get(key(u, w))!)).toEqual(Array.from(t.get(key(g[0], w))!));

    const withAdapter = (await cli(['eval', ...common.slice(0, 6), '--adapter', out, '--json'])).json[0];
    const base = (await cli(['eval', ...common.slice(0, 6), '--json'])).json[0];
    expect(withAdapter.loss).not.toBe(base.loss);

    // resume: two more phase-2 steps, no phase 1, the same selection
    const r2 = await cli(['train', '--resume', out, '--steps', '6', '--out', out2, '--data', data, '--model', llamaModel, '--json']);
    expect(r2.json.filter((x) => !('loradrop' in x)).map((x) => x.step)).toEqual([5, 6]);
    expect(r2.err.some((l) => /phase 1/.test(l))).toBe(false);
    const rep2 = JSON.parse(readFileSync(path.join(out2, 'weblora.json'), 'utf8')).method_state.loradrop;
    expect(rep2.kept).toEqual(rep.kept);
    expect(rep2.importance).toEqual(rep.importance);
    const t2 = tensors(path.join(out2, 'adapter_model.safetensors'));
    for (const g of shared) for (const u of g.slice(1)) expect(Array.from(t2.get(key(u, 'B'))!)).toEqual(Array.from(t2.get(key(g[0], 'B'))!));
    console.log(`[loradrop cli] kept ${rep.kept.length}/14 (share ${keptShare.toFixed(3)}), shared ${shared.map((g) => g.length).join('+')}; ` +
      `phase 1 ${rep.phase1.map((x: any) => x.loss.toFixed(4)).join(' ')}; phase 2 ${steps.map((x) => x.loss.toFixed(4)).join(' ')}; resumed ${r2.json.filter((x) => !('loradrop' in x)).map((x) => x.loss.toFixed(4)).join(' ')}; ` +
      `eval ${withAdapter.loss.toFixed(4)} vs base ${base.loss.toFixed(4)}`);

    await expect(cli(['train', ...common, '--method', 'loradrop', '--steps', '1', '--batch', '2', '--lr', '0.01', '--drop-threshold', '1.5', '--out', path.join(tmp, 'c')])).rejects.toThrow(/drop-threshold must be ≤ 1/);
    await expect(cli(['train', ...common, '--method', 'lora', '--steps', '1', '--batch', '2', '--lr', '0.01', '--drop-sample', '0.2', '--out', path.join(tmp, 'c')])).rejects.toThrow(/applies to --method loradrop/);
  }, 900_000);
});
