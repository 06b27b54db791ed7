// The CLI end to end against the PyTorch + PEFT fixtures (scripts/make_fixtures.py): Qwen2 (F16,
// q/k/v biases) and GPT-2 (Conv1D, fan_in_fan_out), plus the spawned binary. Cases in fixture-cases.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
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
});
