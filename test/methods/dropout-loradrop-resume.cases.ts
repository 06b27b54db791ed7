// LoRA-drop with --lora-dropout: 2 phase-2 steps, then 2 more from the checkpoint, equal 4 straight ones (each
// layer's mask counter is in weblora.json; phase 1 fixed by --drop-warmup-steps so both runs select alike).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, data, llamaModel, tensors } from './replay';
import { relL2 } from '../helpers/gpu';

const common = ['--model', llamaModel, '--data', data, '--batch', '2', '--seq', '24', '--lr', '0.02', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '2',
  '--method', 'loradrop', '--rank', '4', '--targets', 'q_proj,v_proj,o_proj', '--drop-warmup-steps', '2', '--drop-threshold', '0.6', '--lora-dropout', '0.3'];

describe('weblora train --method loradrop --lora-dropout, resumed', () => {
  it('2 + 2 resumed phase-2 steps = 4 straight ones', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-dropout-loradrop-'));
    const out = (n: string) => path.join(tmp, n);
    const full = await cli(['train', ...common, '--steps', '4', '--out', out('full')]);
    await cli(['train', ...common, '--steps', '2', '--out', out('half')]);
    const masks = JSON.parse(readFileSync(path.join(out('half'), 'weblora.json'), 'utf8')).method_state.dropout_masks;
    expect(Object.keys(masks)).toHaveLength(6);
    await cli(['train', '--model', llamaModel, '--data', data, '--resume', out('half'), '--steps', '4', '--json', '--out', out('resumed')]);
    const hist = JSON.parse(readFileSync(path.join(out('resumed'), 'weblora.json'), 'utf8')).history.map((h: { loss: number }) => h.loss);
    const want = full.json.filter((x) => !('loradrop' in x)).map((x) => x.loss);
    const worstLoss = Math.max(...hist.map((x: number, i: number) => Math.abs(x - want[i]) / want[i]));
    const a = tensors(path.join(out('full'), 'adapter_model.safetensors')), b = tensors(path.join(out('resumed'), 'adapter_model.safetensors'));
    let worst = 0;
    for (const [k, v] of a) worst = Math.max(worst, relL2(b.get(k)!, v));
    console.log(`[loradrop dropout resume] masks ${JSON.stringify(masks)}; loss rel err ${worstLoss.toExponential(2)}, adapter rel L2 ${worst.toExponential(2)}`);
    expect(hist).toHaveLength(4);
    expect(worstLoss).toBeLessThan(1e-6);
    expect(worst).toBeLessThan(1e-6);
  }, 600_000);
});
