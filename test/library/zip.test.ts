import { describe, expect, it } from 'vitest';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { AdapterFileError, adapterFolder, buildDownloadZip, parseTrainingLog, recordFromFiles, trainingLogJsonl, validateAdapter, zipFileName } from '../../app/library/zip';
import { makeRecord } from '../../app/library/record';
import { serializeSafetensors } from '../../src/engine/io/safetensors';
import { loraFiles, runInput, SETTINGS, veraFiles } from './helpers';

const fakePng = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const state = serializeSafetensors([{ name: 'optimizer.m.x', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }], { format: 'weblora' });

/** weblora.json as TrainingSession.checkpoint() writes it. */
function checkpointJson(step: number): Uint8Array {
  return strToU8(JSON.stringify({
    format: 'weblora-checkpoint', version: 1, method: 'lora', settings: { ...SETTINGS, steps: 10 }, step, base_model: 'HuggingFaceTB/SmolLM2-135M',
    history: Array.from({ length: step }, (_, i) => ({ step: i + 1, loss: 3 - i / 10, lr: 1e-4 })), method_state: { adam_t: step }, created: '2025-03-04T05:06:07.000Z',
  }, null, 2));
}

describe('download zip', () => {
  it('holds the PEFT files, model card, log, curve and run info, and imports back to the same record', async () => {
    const rec = makeRecord(runInput({ name: 'My run | v1', log: ['LoRA r=2 on 2 layers', 'done'] }), Date.UTC(2025, 0, 2));
    const { fileName, bytes } = await buildDownloadZip(rec, fakePng);
    expect(fileName).toBe('My-run-v1.zip');
    const files = unzipSync(bytes);
    expect(Object.keys(files).sort()).toEqual([
      'README.md', 'adapter_config.json', 'adapter_model.safetensors', 'loss_curve.png', 'training_log.jsonl', 'training_log.txt', 'weblora-run.json',
    ]);
    expect(files['adapter_model.safetensors']).toEqual(rec.files['adapter_model.safetensors']);
    expect(files['adapter_config.json']).toEqual(rec.files['adapter_config.json']);
    expect(files['loss_curve.png']).toEqual(fakePng);
    expect(strFromU8(files['README.md'])).toContain('![Training loss per step](loss_curve.png)');
    expect(Object.keys(JSON.parse(strFromU8(files['weblora-run.json']))).sort()).not.toContain('files');
    expect(files['weblora-run.json'].length).toBeLessThan(2000);
    expect(strFromU8(files['training_log.jsonl']).split('\n')[1]).toBe('{"step":2,"loss":3.1,"lr":0.0002,"val_loss":3.3}');

    const back = recordFromFiles(files, fileName, { now: Date.UTC(2025, 0, 3), name: 'ignored: the run info names it' });
    expect(back.id).not.toBe(rec.id);
    for (const k of ['name', 'method', 'baseModel', 'createdAt', 'steps', 'totalSteps', 'finalTrainLoss', 'finalValLoss', 'settings', 'history', 'stats', 'kind', 'source', 'dataSize', 'dataName', 'log', 'adapter', 'sizeBytes'] as const) {
      expect(back[k], k).toEqual(rec[k]);
    }
    expect(back.files).toEqual(rec.files);
  });

  it('a checkpoint carries its resume state and comes back as a checkpoint', async () => {
    const input = runInput({ kind: 'checkpoint', steps: 2, totalSteps: 4 });
    input.files = { ...input.files, 'weblora.json': checkpointJson(2), 'weblora-state.safetensors': state };
    const rec = makeRecord(input);
    const files = unzipSync((await buildDownloadZip(rec, null)).bytes);
    expect(files['weblora-state.safetensors']).toEqual(state);
    expect(files['loss_curve.png']).toBeUndefined();
    expect(strFromU8(files['README.md'])).toContain('resume training');
    const back = recordFromFiles(files, 'ckpt.zip');
    expect(back.kind).toBe('checkpoint');
    expect(back.steps).toBe(2);
    expect(back.totalSteps).toBe(4);
    expect(back.files['weblora.json']).toEqual(input.files['weblora.json']);
  });

  it('a checkpoint folder the CLI wrote imports as resumable, with settings and history from weblora.json', () => {
    const folder = { ...loraFiles(), 'weblora.json': checkpointJson(3), 'weblora-state.safetensors': state };
    const rec = recordFromFiles(folder, 'the folder ckpt', { name: 'ckpt' });
    expect(rec.kind).toBe('checkpoint');
    expect(rec.source).toBe('imported');
    expect(rec.settings).toEqual({ ...SETTINGS, steps: 10 });
    expect([rec.steps, rec.totalSteps]).toEqual([3, 10]);
    expect(rec.history.map((h) => h.loss)).toEqual([3, 2.9, 2.8]);
    expect(rec.finalTrainLoss).toBe(2.8);
    expect(rec.createdAt).toBe(Date.parse('2025-03-04T05:06:07.000Z'));
    expect(Object.keys(rec.files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'weblora-state.safetensors', 'weblora.json']);
    expect(() => recordFromFiles({ ...folder, 'weblora.json': strToU8('{"step": 3}') }, 'x')).toThrow(/not a version-1 WebLoRA checkpoint/);
    const { 'weblora-state.safetensors': _, ...noState } = folder;
    expect(() => recordFromFiles(noState, 'x')).toThrow(/could not resume/);
  });

  it('file names are safe', () => {
    expect(zipFileName('../../etc/passwd')).toBe('..-..-etc-passwd.zip');
    expect(zipFileName('  ')).toBe('adapter.zip');
    expect(zipFileName('LoRA · SmolLM2 · 2025-01-01 10:00')).toBe('LoRA-SmolLM2-2025-01-01-10-00.zip');
  });

  it('training_log.jsonl round trip keeps validation losses and skips damaged lines', () => {
    const h = runInput().history;
    expect(parseTrainingLog(trainingLogJsonl(h))).toEqual(h);
    expect(parseTrainingLog('{"step":1,"loss":2,"lr":0.1}\n{broken\n\n{"step":2}\n')).toEqual([{ step: 1, loss: 2, lr: 0.1 }]);
  });
});

describe('importing PEFT adapters', () => {
  it('a plain PEFT folder (any zip layout) becomes an imported adapter entry', () => {
    const peft = loraFiles({ rslora: true });
    const zipped = unzipSync(zipSync({ 'my-adapter/adapter_config.json': peft['adapter_config.json'], 'my-adapter/adapter_model.safetensors': peft['adapter_model.safetensors'], 'my-adapter/README.md': strToU8('hi'), '__MACOSX/._x': new Uint8Array(3) }));
    const rec = recordFromFiles(zipped, 'my-adapter.zip', { name: 'my-adapter' });
    expect(rec.source).toBe('imported');
    expect(rec.kind).toBe('adapter');
    expect(rec.name).toBe('my-adapter');
    expect(rec.method).toBe('lora');
    expect(rec.adapter!.rslora).toBe(true);
    expect(rec.baseModel).toBe('HuggingFaceTB/SmolLM2-135M');
    expect(rec.settings).toBeNull();
    expect(rec.history).toEqual([]);
    expect(rec.stats.trainableParams).toBe(2 * (2 * 6 + 5 * 2));
    expect(Object.keys(rec.files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(recordFromFiles(peft, 'the dropped files').name).toBe('rsLoRA adapter · SmolLM2-135M');
  });

  it('knows DoRA and VeRA, and does not count VeRA’s frozen projections', () => {
    expect(validateAdapter(loraFiles({ dora: true }), 'd').method).toBe('dora');
    expect(validateAdapter(loraFiles({ dora: true }), 'd').trainableParams).toBe(2 * (2 * 6 + 5 * 2 + 5));
    const v = validateAdapter(veraFiles(), 'v');
    expect(v.method).toBe('vera');
    expect(v.trainableParams).toBe(3 + 5);
  });

  const cases: [string, Record<string, Uint8Array>, RegExp, RegExp][] = [
    ['no config', { 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'] }, /no adapter_config\.json/, /save_pretrained/],
    ['pickle weights', { 'adapter_config.json': loraFiles()['adapter_config.json'], 'adapter_model.bin': new Uint8Array(8) }, /adapter_model\.bin/, /safe_serialization=True/],
    ['config alone', { 'adapter_config.json': loraFiles()['adapter_config.json'] }, /No adapter_model\.safetensors next to/, /both files/],
    ['bad JSON', { 'adapter_config.json': strToU8('{"peft_type": '), 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'] }, /not valid JSON/, /damaged/],
    ['no peft_type', { 'adapter_config.json': strToU8('{"r": 8}'), 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'] }, /no peft_type/, /save_pretrained/],
    ['unknown method', { 'adapter_config.json': strToU8('{"peft_type": "IA3"}'), 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'] }, /IA3 is not a method/, /VeRA/],
    ['truncated weights', { ...loraFiles(), 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'].subarray(0, 40) }, /invalid safetensors/, /damaged/],
    ['weights of another config', { 'adapter_config.json': veraFiles()['adapter_config.json'], 'adapter_model.safetensors': loraFiles()['adapter_model.safetensors'] }, /vera/i, /belong together/],
  ];
  for (const [what, files, message, hint] of cases) {
    it(`refuses ${what} with what happened and what to try`, () => {
      let err: unknown;
      try {
        recordFromFiles(files, 'dropped');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AdapterFileError);
      expect((err as AdapterFileError).message).toMatch(message);
      expect((err as AdapterFileError).hint).toMatch(hint);
    });
  }

  it('refuses to guess between several adapters', () => {
    const a = loraFiles();
    const files = { 'run/checkpoint-1/adapter_config.json': a['adapter_config.json'], 'run/checkpoint-2/adapter_config.json': a['adapter_config.json'] };
    expect(() => adapterFolder(files, 'run')).toThrow(/2 adapters/);
  });
});
