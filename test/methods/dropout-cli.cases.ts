// `weblora train --lora-dropout P` on the tiny Llama fixture: adapter_config.json says lora_dropout P (a Python float),
// the loss falls, the masks change the run (same seed without dropout trains differently), --init-adapter keeps the
// file's lora_dropout unless --lora-dropout overrides it, --resume continues the masks exactly (2 + 2 steps = 4), and
// the methods without dropout refuse the flag with a reason.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/engine/cli';
import { cli, data, llamaModel, tensors } from './replay';
import { relL2 } from '../helpers/gpu';

const common = ['--model', llamaModel, '--data', data, '--batch', '2', '--seq', '24', '--lr', '0.02', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '2'];
const configOf = (dir: string) => readFileSync(path.join(dir, 'adapter_config.json'), 'utf8');
const losses = (r: { json: any[] }) => r.json.map((x) => x.loss as number);

describe('weblora train --lora-dropout', () => {
  it('writes lora_dropout, the loss falls, the masks matter; --init-adapter keeps it; --resume is exact', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-dropout-cli-'));
    const out = (n: string) => path.join(tmp, n);
    const run = await cli(['train', ...common, '--method', 'lora', '--rank', '4', '--alpha', '8', '--lora-dropout', '0.1', '--steps', '8', '--out', out('a')]);
    expect(configOf(out('a'))).toMatch(/^ {2}"lora_dropout": 0\.1,$/m);
    const l = losses(run);
    expect(l).toHaveLength(8);
    expect((l[6] + l[7]) / 2, `losses ${l.join(' ')}`).toBeLessThan(((l[0] + l[1]) / 2) * 0.95);
    const plain = await cli(['train', ...common, '--method', 'lora', '--rank', '4', '--alpha', '8', '--steps', '8', '--out', out('plain')]);
    expect(configOf(out('plain'))).toMatch(/^ {2}"lora_dropout": 0\.0,$/m);
    const lp = losses(plain);
    // step 1's forward is W₀'s whatever the mask (B = 0); from step 2 on the masks show in the loss
    expect(lp[0]).toBe(l[0]);
    expect(lp[1]).not.toBe(l[1]);

    // --init-adapter: the file's 0.1 is kept; --lora-dropout 0.05 overrides it
    const kept = await cli(['train', ...common, '--method', 'lora', '--init-adapter', out('a'), '--steps', '2', '--out', out('init')]);
    expect(kept.code).toBe(0);
    expect(configOf(out('init'))).toMatch(/^ {2}"lora_dropout": 0\.1,$/m);
    await cli(['train', ...common, '--method', 'loraplus', '--init-adapter', out('a'), '--lora-dropout', '0.05', '--steps', '1', '--out', out('over')]);
    expect(configOf(out('over'))).toMatch(/^ {2}"lora_dropout": 0\.05,$/m);

    // LoRA-drop: both phases and the shared pairs train with it; the file says it
    await cli(['train', ...common, '--method', 'loradrop', '--rank', '4', '--lora-dropout', '0.2', '--steps', '2', '--drop-sample', '0.5', '--out', out('drop')]);
    expect(configOf(out('drop'))).toMatch(/^ {2}"lora_dropout": 0\.2,$/m);

    // --resume: 2 + 2 steps equal 4 straight ones (the mask counter is in the checkpoint)
    const args = [...common, '--method', 'lorafa', '--rank', '4', '--lora-dropout', '0.3'];
    const full = await cli(['train', ...args, '--steps', '4', '--out', out('full')]);
    await cli(['train', ...args, '--steps', '2', '--out', out('half')]);
    expect(JSON.parse(readFileSync(path.join(out('half'), 'weblora.json'), 'utf8')).method_state.dropout_masks).toBe(2);
    const rest = await cli(['train', '--model', llamaModel, '--data', data, '--resume', out('half'), '--steps', '4', '--json', '--out', out('resumed')]);
    expect(configOf(out('resumed'))).toMatch(/^ {2}"lora_dropout": 0\.3,$/m);
    const half = JSON.parse(readFileSync(path.join(out('resumed'), 'weblora.json'), 'utf8')).history.map((h: { loss: number }) => h.loss);
    expect(half).toHaveLength(4);
    const worstLoss = Math.max(...half.map((x: number, i: number) => Math.abs(x - full.json[i].loss) / full.json[i].loss));
    const a = tensors(path.join(out('full'), 'adapter_model.safetensors')), b = tensors(path.join(out('resumed'), 'adapter_model.safetensors'));
    let worst = 0;
    for (const [k, v] of a) worst = Math.max(worst, relL2(b.get(k)!, v));
    console.log(`[lora-dropout cli] p 0.1 losses ${l.map((x) => x.toFixed(4)).join(' ')}; p 0 ${lp.map((x) => x.toFixed(4)).join(' ')}; ` +
      `resume (lorafa p 0.3) loss rel err ${worstLoss.toExponential(2)}, adapter rel L2 ${worst.toExponential(2)}; resumed losses ${losses(rest).map((x) => x.toFixed(4)).join(' ')}`);
    expect(worstLoss).toBeLessThan(1e-6);
    expect(worst).toBeLessThan(1e-6);
  }, 600_000);

  it('refuses p outside [0, 1) and the methods without dropout, with the reason', async () => {
    const err: string[] = [];
    const run = (extra: string[]) => main(['train', ...common, '--steps', '1', '--out', '/tmp/weblora-never', ...extra], { out: () => {}, err: (l) => err.push(l) });
    expect(await run(['--lora-dropout', '1'])).not.toBe(0);
    expect(err.pop()).toMatch(/--lora-dropout must be in \[0, 1\), got 1/);
    for (const m of ['dora', 'deltalora', 'vera', 'adalora']) {
      expect(await run(['--method', m, '--lora-dropout', '0.1'])).not.toBe(0);
      expect(err.pop()).toMatch(new RegExp(`--lora-dropout does not apply to --method ${m}: .*applies to lora, loraplus, lorafa, loradrop\\)`));
    }
  });
});
