// The library against the real engine: a checkpoint the session wrote (through the CLI, the same
// TrainingSession.checkpoint() the web worker calls) goes into the library, out as the download zip and back in
// as an import, and training resumed from what came back continues exactly as the uninterrupted run.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { cli, data, llamaModel } from '../methods/replay';
import { buildDownloadZip, recordFromFiles } from '../../app/library/zip';
import { memoryStore, openLibrary } from '../../app/library/storage';

const readDir = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))]));

describe('library ↔ engine', () => {
  it('a checkpoint kept in the library, downloaded and imported again resumes exactly', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'weblora-library-'));
    const common = ['--model', llamaModel, '--data', data, '--batch', '2', '--seq', '24', '--lr', '0.02', '--schedule', 'constant', '--no-shuffle', '--json', '--log-every', '1', '--method', 'lora', '--rank', '4'];
    const full = await cli(['train', ...common, '--steps', '3', '--out', path.join(tmp, 'full')]);
    await cli(['train', ...common, '--steps', '1', '--out', path.join(tmp, 'half')]);

    const lib = openLibrary(memoryStore(), { channel: null });
    const imported = recordFromFiles(readDir(path.join(tmp, 'half')), 'the folder half', { name: 'half' });
    expect(imported.kind).toBe('checkpoint');
    expect(imported.settings?.steps).toBe(1);
    expect(imported.history.map((h) => h.loss)).toEqual(full.json.slice(0, 1).map((x) => x.loss));
    await lib.put(imported);

    const { bytes } = await buildDownloadZip((await lib.get(imported.id))!, null);
    const back = recordFromFiles(unzipSync(bytes), 'half.zip', { name: 'half again' });
    expect(back.files).toEqual(imported.files);
    const dir = path.join(tmp, 'from-zip');
    mkdirSync(dir);
    for (const [name, b] of Object.entries(back.files)) writeFileSync(path.join(dir, name), b);

    const resumed = await cli(['train', '--resume', dir, '--steps', '3', '--json', '--log-every', '1', '--model', llamaModel, '--data', data, '--out', path.join(tmp, 'resumed')]);
    expect(resumed.json.map((x) => x.step)).toEqual([2, 3]);
    for (const [i, r] of resumed.json.entries()) expect(r.loss).toBeCloseTo(full.json[i + 1].loss, 6);
  }, 300_000);
});
