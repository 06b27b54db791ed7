import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, finalLosses, makeRecord, methodTitle, newId, normalizeEntry, splitRecord } from '../../app/library/record';
import { runInput } from './helpers';

describe('library records', () => {
  it('makeRecord derives final losses, size, steps and the adapter config summary', () => {
    const input = runInput();
    const rec = makeRecord(input, Date.UTC(2025, 4, 1, 12, 30));
    expect(rec.finalTrainLoss).toBe(2.7);
    expect(rec.finalValLoss).toBe(3.0);
    expect(rec.steps).toBe(4);
    expect(rec.totalSteps).toBe(4);
    const size = input.files['adapter_config.json'].byteLength + input.files['adapter_model.safetensors'].byteLength;
    expect(rec.sizeBytes).toBe(size);
    expect(rec.adapter).toEqual({ peftType: 'LORA', r: 2, alpha: 4, rslora: false, targets: ['q_proj', 'v_proj'] });
    expect(rec.name).toBe('LoRA · SmolLM2-135M · 2025-05-01 12:30');
    expect(rec.schema).toBe(SCHEMA_VERSION);
    const { entry, files } = splitRecord(rec);
    expect('files' in entry).toBe(false);
    expect(files).toBe(input.files);
  });

  it('makeRecord refuses a record without the two PEFT files', () => {
    const input = runInput();
    delete input.files['adapter_model.safetensors'];
    expect(() => makeRecord(input)).toThrow(/adapter_model\.safetensors/);
  });

  it('finalLosses skips NaN training losses and keeps the last validation loss', () => {
    expect(finalLosses([{ step: 1, loss: 2, lr: 0, valLoss: 5 }, { step: 2, loss: NaN, lr: 0 }])).toEqual({ train: 2, val: 5 });
    expect(finalLosses([])).toEqual({ train: null, val: null });
  });

  it('normalizeEntry reads a schema-0 entry (val_loss, no stats) into the current shape', () => {
    const e = normalizeEntry({
      id: 'x1', name: '  ', method: 'dora', createdAt: 1000, kind: 'checkpoint',
      history: [{ step: 1, loss: 2.5, lr: 1e-3, val_loss: 2.9 }, { step: 'two', loss: 1 }, null],
      settings: { method: 'dora', steps: 10, batch: 1, seq: 8, lr: 1e-3 },
    });
    expect(e).not.toBeNull();
    expect(e!.schema).toBe(SCHEMA_VERSION);
    expect(e!.name).toBe('Untitled x1');
    expect(e!.history).toEqual([{ step: 1, loss: 2.5, lr: 1e-3, valLoss: 2.9 }]);
    expect(e!.finalValLoss).toBe(2.9);
    expect(e!.totalSteps).toBe(10);
    expect(e!.updatedAt).toBe(1000);
    expect(e!.stats).toEqual({ tokensPerSec: null, peakMemoryBytes: null, trainableParams: null });
    expect(e!.kind).toBe('checkpoint');
  });

  it('normalizeEntry skips values that are not entries, and entries from a newer schema', () => {
    expect(normalizeEntry(null)).toBeNull();
    expect(normalizeEntry(new Uint8Array(4))).toBeNull();
    expect(normalizeEntry({ name: 'no id' })).toBeNull();
    expect(normalizeEntry({ id: 'a', schema: SCHEMA_VERSION + 1 })).toBeNull();
  });

  it('ids sort by creation time and do not collide', () => {
    const ids = Array.from({ length: 200 }, () => newId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(200);
    expect(newId(1) < newId(2_000_000_000_000)).toBe(true);
  });

  it('methodTitle names rsLoRA from the settings or the adapter config', () => {
    expect(methodTitle('loraplus')).toBe('LoRA+');
    expect(methodTitle('lora', { method: 'lora', rslora: true, steps: 1, batch: 1, seq: 1, lr: 1 })).toBe('rsLoRA');
    expect(methodTitle('lora', null, { peftType: 'LORA', r: 8, alpha: 8, rslora: true, targets: [] })).toBe('rsLoRA');
    expect(methodTitle('unknown-method')).toBe('unknown-method');
  });
});
