// The CLI end to end against the PyTorch + PEFT fixtures (scripts/make_fixtures.py): Qwen2 (F16,
// q/k/v biases) and GPT-2 (Conv1D, fan_in_fan_out), plus the spawned binary. Cases in fixture-cases.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { main } from '../../src/engine/cli';
import { data, expectOf, fixtureCases, fx, rel, root } from './fixture-cases';
import { buildCli } from './build';

describe('weblora CLI on the PyTorch fixtures: qwen2, gpt2', () => {
  let cli = '';
  let cleanup = () => {};
  beforeAll(async () => {
    ({ cli, cleanup } = await buildCli('fixtures'));
  });
  afterAll(() => cleanup());

  it('spawned bundled `node cli.js eval --json` prints {"loss": L, "tokens": n} (gpt2 base)', () => {
    const e = expectOf('gpt2');
    const r = spawnSync(process.execPath, [cli, 'eval', '--model', path.join(fx, 'gpt2/model'), '--data', data, '--seq', String(e.seq), '--json'], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\{"loss": [-0-9.e]+, "tokens": \d+\}$/);
    const got = JSON.parse(lines[0]);
    expect(got.tokens).toBe(e.eval.base.tokens);
    expect(rel(got.loss, e.eval.base.loss)).toBeLessThan(1e-4);
  });

  fixtureCases(['qwen2', 'gpt2']);

  it('an adapter made for another model is refused with one line', async () => {
    const err: string[] = [];
    const code = await main(['eval', '--model', path.join(fx, 'gpt2/model'), '--adapter', path.join(fx, 'llama/adapter'), '--data', data, '--seq', '8', '--json'], { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.filter((l) => l.startsWith('weblora: error:'))).toHaveLength(1);
    expect(err.join('\n')).toMatch(/adapts model\.layers\.0\.[a-z_.]+, which this model does not have/);
  });

  it('a diverging run stops with one line naming the step, and writes no adapter', async () => {
    const out = path.join(root, 'dist', `test-diverge-${process.pid}`);
    const err: string[] = [];
    const lines: string[] = [];
    const code = await main([
      'train', '--model', path.join(fx, 'gpt2/model'), '--data', data, '--init-adapter', path.join(fx, 'gpt2/adapter'), '--steps', '4',
      '--batch', '2', '--seq', '24', '--lr', '1e4', '--max-grad-norm', '0', '--no-shuffle', '--out', out, '--json', '--log-every', '2',
    ], { out: (l) => lines.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    const errors = err.filter((l) => l.startsWith('weblora: error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/the loss became NaN at step \d+: training diverged/);
    expect(existsSync(out)).toBe(false);
    expect(lines.length).toBeGreaterThan(0); // the steps before were printed
  });
});
