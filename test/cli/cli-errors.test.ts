// The CLI's error contract: bad flags, missing files, bad values → one line `weblora: error: …` on stderr, exit 1,
// nothing on stdout, never a stack trace. Spawns the bundled CLI (built in beforeAll, as scripts/build-cli.mjs does).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { buildCli, root } from './build';

let cli = '';
let cleanup = () => {};
beforeAll(async () => {
  ({ cli, cleanup } = await buildCli('errors'));
});
afterAll(() => cleanup());

/** Our own stderr lines (Dawn/Vulkan may print driver noise before them, which is not ours to filter). */
function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('weblora: error'));
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, errors: ours };
}

describe('CLI errors: one line, exit 1', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-cli-'));
  const modelDir = path.join(tmp, 'model');
  mkdirSync(modelDir);
  const data = path.join(tmp, 'data.jsonl');
  writeFileSync(data, '{"text": "hi"}\n');

  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['fly'], /unknown command 'fly'/],
    ['unknown flag', ['train', '--bogus', '1'], /unknown flag --bogus for train/],
    ['missing required flag', ['eval', '--model', modelDir, '--data', data], /eval needs --seq/],
    ['non-numeric value', ['eval', '--model', modelDir, '--data', data, '--seq', 'abc'], /--seq wants a number, got 'abc'/],
    ['non-integer value', ['train', '--model', modelDir, '--data', data, '--steps', '1.5', '--batch', '1', '--seq', '4', '--lr', '1e-3', '--out', tmp], /--steps wants an integer/],
    ['flag without value', ['eval', '--model'], /--model needs a value/],
    ['missing model folder', ['eval', '--model', path.join(tmp, 'nope'), '--data', data, '--seq', '4'], /--model .*nope does not exist/],
    ['missing data file', ['eval', '--model', modelDir, '--data', path.join(tmp, 'nope.jsonl'), '--seq', '4'], /--data .*nope.jsonl does not exist/],
    ['bad schedule', ['train', '--model', modelDir, '--data', data, '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1e-3', '--out', tmp, '--schedule', 'step'], /--schedule must be constant, linear or cosine/],
    ['unsupported method', ['train', '--model', modelDir, '--data', data, '--method', 'bogus', '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1e-3', '--out', tmp], /--method bogus is not supported/],
    ['zero batch', ['train', '--model', modelDir, '--data', data, '--steps', '1', '--batch', '0', '--seq', '4', '--lr', '1e-3', '--out', tmp], /--batch must be ≥ 1/],
    ['both prompts', ['generate', '--model', modelDir, '--prompt', 'a', '--prompt-ids', '1', '--max-new-tokens', '2'], /exactly one of --prompt/],
    ['bad prompt ids', ['generate', '--model', modelDir, '--prompt-ids', '1,x', '--max-new-tokens', '2'], /'x' is not a token id/],
    ['model folder without files', ['merge', '--model', modelDir, '--adapter', modelDir, '--out', path.join(tmp, 'o')], /missing adapter_config.json/],
  ];
  for (const [name, args, want] of cases)
    it(name, () => {
      const r = run(args);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.errors, r.stderr).toHaveLength(1);
      expect(r.errors[0]).toMatch(want);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.(js|ts):\d+/); // no stack trace
    });

  it('--help exits 0 with the usage of every command', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['eval', 'train', 'generate', 'merge']) expect(r.stdout).toContain(`weblora ${c} --model DIR`);
  });
});
