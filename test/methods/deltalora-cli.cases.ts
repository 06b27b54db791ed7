// `weblora train --method deltalora` end to end on the Llama fixture (BF16 weights) and its data:
//  - steps 1..K+1 are LoRA's (W is still W₀ when they run), later steps are not (W has moved);
//  - --resume continues from the exact state: with --lr 0 its step 6 is the trained model on examples 4, 5, and
//    `weblora eval --adapter` of the written rank-2r LoRA on the original base gives that same loss;
//  - `weblora merge` of it gives a model with that loss up to the bf16 rounding of the merged weights.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, rel, llamaModel, tensors } from './replay';

describe('weblora train --method deltalora', () => {
  it('LoRA until K+1, then not; eval --adapter and --resume agree on the trained model; merge', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-deltalora-'));
    const common = ['--model', llamaModel, '--data', data, '--batch', '2', '--seq', '24', '--lr', '0.02', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '3'];
    const K = 2, steps = 5;
    const delta = await cli(['train', ...common, '--steps', String(steps), '--method', 'deltalora', '--delta-start', String(K), '--out', path.join(tmp, 'delta')]);
    const lora = await cli(['train', ...common, '--steps', String(steps), '--method', 'lora', '--out', path.join(tmp, 'lora')]);
    const d = delta.json.map((x) => x.loss), l = lora.json.map((x) => x.loss);
    expect(delta.err.join('\n')).toMatch(/after every step past 2, λ = 2; exported as rank 16/);

    // the files: a plain rank-2r LORA with α' = 2α, the snapshot half non-zero, and the checkpoint state
    const dir = path.join(tmp, 'delta');
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'weblora-state.safetensors', 'weblora.json']);
    const config = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect([config.peft_type, config.r, config.lora_alpha, config.use_dora]).toEqual(['LORA', 16, 16, false]);
    const B = tensors(path.join(dir, 'adapter_model.safetensors')).get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!;
    expect(B.filter((v, i) => i % 16 >= 8 && v !== 0).length).toBeGreaterThan(0);

    // the trained model on examples 4, 5: step 6 of a resumed run at lr 0 (its loss is computed before any update)
    const resumed = await cli(['train', '--resume', dir, '--steps', String(steps + 1), '--lr', '0', '--json', '--model', llamaModel, '--data', data, '--out', path.join(tmp, 'resumed')]);
    expect(resumed.json.map((x) => x.step)).toEqual([steps + 1]);
    const trained = resumed.json[0].loss;
    const lines = readFileSync(data, 'utf8').split('\n').filter((x) => x.trim());
    const last = path.join(tmp, 'examples45.jsonl');
    writeFileSync(last, lines.slice(4, 6).join('\n') + '\n');
    const evalArgs = ['--data', last, '--seq', '24', '--batch', '2', '--json'];
    const viaAdapter = (await cli(['eval', '--model', llamaModel, '--adapter', dir, ...evalArgs])).json[0].loss;
    const base = (await cli(['eval', '--model', llamaModel, ...evalArgs])).json[0].loss;
    await cli(['merge', '--model', llamaModel, '--adapter', dir, '--out', path.join(tmp, 'merged')]);
    const viaMerge = (await cli(['eval', '--model', path.join(tmp, 'merged'), ...evalArgs])).json[0].loss;

    const e = (x: number) => x.toExponential(2);
    console.log(`delta ${d.map((x) => x.toFixed(6))} | lora ${l.map((x) => x.toFixed(6))}; rel diff ${d.map((x, i) => e(rel(x, l[i])))}; ` +
      `trained ${trained} (resume, step ${steps + 1}), eval --adapter ${viaAdapter} (rel ${e(rel(viaAdapter, trained))}), merged ${viaMerge} (rel ${e(rel(viaMerge, trained))}), base ${base}`);
    for (let i = 0; i <= K; i++) expect(rel(d[i], l[i]), `step ${i + 1}`).toBeLessThan(1e-5);
    for (let i = K + 1; i < steps; i++) expect(rel(d[i], l[i]), `step ${i + 1}`).toBeGreaterThan(1e-4);
    expect(rel(viaAdapter, trained)).toBeLessThan(1e-5);
    expect(rel(viaMerge, trained)).toBeLessThan(1e-3);
    expect(rel(base, trained)).toBeGreaterThan(1e-2);
  }, 300_000);
});
