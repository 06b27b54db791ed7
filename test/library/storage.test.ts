import { describe, expect, it } from 'vitest';
import { LibraryError, memoryStore, openLibrary, type KeyValueStore } from '../../app/library/storage';
import { makeRecord } from '../../app/library/record';
import { runInput } from './helpers';

/** Wraps a store to see which keys each call reads. */
function spy(kv: KeyValueStore) {
  const reads: string[][] = [];
  return { reads, store: { ...kv, getMany: (ks: string[]) => (reads.push(ks), kv.getMany(ks)), get: (k: string) => (reads.push([k]), kv.get(k)) } };
}

describe('library storage', () => {
  it('saves, lists newest first without reading files, gets with files, renames, deletes', async () => {
    const mem = memoryStore();
    const { reads, store } = spy(mem);
    const lib = openLibrary(store, { channel: null });
    let changes = 0;
    lib.subscribe(() => changes++);
    const a = await lib.save(runInput({ name: 'first' }));
    await new Promise((r) => setTimeout(r, 2));
    const b = await lib.save(runInput({ name: 'second', method: 'dora' }));
    expect(changes).toBe(2);

    reads.length = 0;
    const list = await lib.list();
    expect(list.map((e) => e.name)).toEqual(['second', 'first']);
    expect(reads.flat().every((k) => k.startsWith('entry:'))).toBe(true);
    expect(list[0]).not.toHaveProperty('files');

    const rec = await lib.get(a.id);
    expect(rec!.files['adapter_model.safetensors']).toEqual(runInput().files['adapter_model.safetensors']);

    const renamed = await lib.rename(a.id, '  better name ');
    expect(renamed.name).toBe('better name');
    expect((await lib.entry(a.id))!.name).toBe('better name');
    await expect(lib.rename(a.id, '   ')).rejects.toBeInstanceOf(LibraryError);

    await lib.remove(b.id);
    expect((await lib.list()).map((e) => e.id)).toEqual([a.id]);
    expect([...mem.map.keys()].sort()).toEqual([`entry:${a.id}`, `files:${a.id}`]);
    expect(await lib.get(b.id)).toBeNull();
    expect(changes).toBe(4);
  });

  it('a save the browser refuses (quota) leaves the library unchanged and says what to do', async () => {
    const mem = memoryStore();
    const lib = openLibrary(mem, { channel: null });
    await lib.save(runInput({ name: 'kept' }));
    const before = new Map(mem.map);
    const full = openLibrary({ ...mem, setMany: async () => { throw new DOMException('quota reached', 'QuotaExceededError'); } }, { channel: null });
    const err = await full.save(runInput({ name: 'too big' })).catch((e) => e);
    expect(err).toBeInstanceOf(LibraryError);
    expect(err.message).toMatch(/storage for this site is full/);
    expect(err.hint).toMatch(/Nothing already saved was changed/);
    expect(mem.map).toEqual(before);
    expect((await lib.list()).map((e) => e.name)).toEqual(['kept']);
  });

  it('stores views into larger buffers compactly, and replaces a record saved again under its id', async () => {
    const mem = memoryStore();
    const lib = openLibrary(mem, { channel: null });
    const input = runInput();
    const big = new Uint8Array(1 << 16);
    const w = input.files['adapter_model.safetensors'];
    big.set(w, 100);
    input.files['adapter_model.safetensors'] = big.subarray(100, 100 + w.byteLength);
    const rec = makeRecord(input);
    await lib.put(rec);
    const stored = mem.map.get(`files:${rec.id}`) as Record<string, Uint8Array>;
    expect(stored['adapter_model.safetensors'].buffer.byteLength).toBe(w.byteLength);
    await lib.put({ ...rec, steps: 99 });
    expect((await lib.list()).map((e) => [e.id, e.steps])).toEqual([[rec.id, 99]]);
  });

  it('a run saved again under its id replaces its files but keeps its (re)name and first save time', async () => {
    const lib = openLibrary(memoryStore(), { channel: null });
    const first = await lib.save(runInput({ id: 'run-1', kind: 'checkpoint', createdAt: 1000 }));
    await lib.rename('run-1', 'my best run');
    const again = await lib.save(runInput({ id: 'run-1', kind: 'adapter', steps: 4 }));
    expect(again.name).toBe('my best run');
    expect(again.createdAt).toBe(1000);
    expect(again.updatedAt).toBeGreaterThan(first.createdAt);
    expect((await lib.list()).map((e) => [e.id, e.kind, e.name])).toEqual([['run-1', 'adapter', 'my best run']]);
  });

  it('skips damaged entries and says so when an entry has lost its files', async () => {
    const mem = memoryStore();
    const lib = openLibrary(mem, { channel: null });
    const e = await lib.save(runInput());
    mem.map.set('entry:broken', 42);
    expect((await lib.list()).map((x) => x.id)).toEqual([e.id]);
    mem.map.delete(`files:${e.id}`);
    await expect(lib.get(e.id)).rejects.toThrow(/files of .* are missing/);
  });
});
