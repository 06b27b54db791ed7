// The library's persistence: IndexedDB through idb-keyval, one object store `library` in the database `weblora`.
// Each run is two values: `entry:<id>` (LibraryEntry: the metadata the list shows, a few KB) and `files:<id>`
// (the adapter/checkpoint bytes, up to hundreds of MB), so listing never reads weights. Both are written in one
// transaction (setMany), so a failed save (quota) leaves the library exactly as it was.
//
// NB for other parts of the app: idb-keyval's createStore creates its object store only when it creates the
// database, so a second store must live in a database of its own name (not 'weblora').
import { createStore, delMany, get, getMany, keys, setMany, type UseStore } from 'idb-keyval';
import { makeRecord, normalizeEntry, splitRecord, type LibraryEntry, type LibraryRecord, type NewRecordInput } from './record';

/** The few key-value operations the library needs; IndexedDB in the app, a Map in the Node tests. */
export interface KeyValueStore {
  keys(): Promise<string[]>;
  get(key: string): Promise<unknown>;
  getMany(keys: string[]): Promise<unknown[]>;
  /** all or nothing */
  setMany(entries: [string, unknown][]): Promise<void>;
  delMany(keys: string[]): Promise<void>;
}

export function idbStore(dbName = 'weblora', storeName = 'library'): KeyValueStore {
  let store: UseStore | null = null;
  // createStore opens the database on first use; deferring it keeps importing this module free of side effects.
  const s = () => (store ??= createStore(dbName, storeName));
  return {
    keys: async () => (await keys(s())).map(String),
    get: (k) => get(k, s()),
    getMany: (ks) => getMany(ks, s()),
    setMany: (es) => setMany(es, s()),
    delMany: (ks) => delMany(ks, s()),
  };
}

/** In-memory store with IndexedDB's copy-on-write semantics (structuredClone), for tests. */
export function memoryStore(): KeyValueStore & { map: Map<string, unknown> } {
  const map = new Map<string, unknown>();
  return {
    map,
    keys: async () => [...map.keys()],
    get: async (k) => structuredClone(map.get(k)),
    getMany: async (ks) => ks.map((k) => structuredClone(map.get(k))),
    setMany: async (es) => {
      const cloned = es.map(([k, v]) => [k, structuredClone(v)] as const); // clone all first: all or nothing
      for (const [k, v] of cloned) map.set(k, v);
    },
    delMany: async (ks) => ks.forEach((k) => map.delete(k)),
  };
}

/** An error with what happened (message) and what to try (hint), for the panel to show as is. */
export class LibraryError extends Error {
  constructor(message: string, readonly hint: string, readonly cause?: unknown) {
    super(message);
    this.name = 'LibraryError';
  }
}

/** Turns IndexedDB's DOMExceptions into words a person can act on. */
export function storageError(e: unknown, action: string): LibraryError {
  if (e instanceof LibraryError) return e;
  const name = (e as { name?: string } | null)?.name ?? '';
  const detail = e instanceof Error ? e.message : String(e);
  if (name === 'QuotaExceededError' || /quota/i.test(detail)) {
    return new LibraryError(
      `Could not ${action}: the browser's storage for this site is full.`,
      'Download runs you want to keep as zip files and delete them here, or free disk space, then try again. Nothing already saved was changed.',
      e,
    );
  }
  if (typeof indexedDB === 'undefined' || name === 'InvalidStateError' || name === 'SecurityError') {
    return new LibraryError(
      `Could not ${action}: this browser does not let the page use its storage (${detail}).`,
      'Private or incognito windows and some privacy settings block site storage. Open WebLoRA in a normal window, or download the adapter as a zip instead.',
      e,
    );
  }
  return new LibraryError(`Could not ${action}: ${detail}`, 'Try again; if it keeps failing, reload the page. Nothing already saved was changed.', e);
}

const ENTRY = 'entry:';
const FILES = 'files:';

/** Uint8Array views into a larger buffer would be stored with the whole buffer (structured clone): copy them. */
function compactFiles(files: Record<string, Uint8Array>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, f] of Object.entries(files)) {
    out[name] = f.byteOffset === 0 && f.byteLength === f.buffer.byteLength && f.buffer instanceof ArrayBuffer ? f : f.slice();
  }
  return out;
}

type Listener = () => void;

export interface Library {
  /** every entry, newest first; damaged or foreign values are skipped */
  list(): Promise<LibraryEntry[]>;
  get(id: string): Promise<LibraryRecord | null>;
  entry(id: string): Promise<LibraryEntry | null>;
  /** stores (or replaces, same id) a record with its files */
  put(record: LibraryRecord): Promise<void>;
  /** builds a record from what a run produced (makeRecord) and stores it; an existing id keeps its name and createdAt */
  save(input: NewRecordInput): Promise<LibraryEntry>;
  rename(id: string, name: string): Promise<LibraryEntry>;
  remove(id: string): Promise<void>;
  /** called after every change made here or, through BroadcastChannel, in another tab */
  subscribe(fn: Listener): () => void;
}

export interface LibraryOptions {
  /** BroadcastChannel name for change notices between tabs; null: none */
  channel?: string | null;
  /** after the first successful save, ask the browser to keep the storage (navigator.storage.persist) */
  persist?: boolean;
}

export function openLibrary(kv: KeyValueStore = idbStore(), opts: LibraryOptions = {}): Library {
  const channelName = opts.channel === undefined ? 'weblora-library' : opts.channel;
  let askedToPersist = !opts.persist;
  const listeners = new Set<Listener>();
  const channel = channelName && typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(channelName) : null;
  const notify = () => listeners.forEach((fn) => fn());
  channel?.addEventListener('message', notify);
  const changed = () => {
    notify();
    channel?.postMessage('changed');
  };
  const guard = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw storageError(e, action);
    }
  };
  const entry = async (id: string) => normalizeEntry(await kv.get(ENTRY + id));

  const lib: Library = {
    list: () =>
      guard('read the library', async () => {
        const ids = (await kv.keys()).filter((k) => k.startsWith(ENTRY));
        const raw = await kv.getMany(ids);
        return raw
          .map(normalizeEntry)
          .filter((e): e is LibraryEntry => e !== null)
          .sort((a, b) => b.updatedAt - a.updatedAt || b.createdAt - a.createdAt);
      }),
    get: (id) =>
      guard('read the run', async () => {
        const [rawEntry, files] = await kv.getMany([ENTRY + id, FILES + id]);
        const e = normalizeEntry(rawEntry);
        if (!e) return null;
        if (!files || typeof files !== 'object') {
          throw new LibraryError(`The files of “${e.name}” are missing from the library.`, 'Delete this entry and train or import it again.');
        }
        return { ...e, files: files as Record<string, Uint8Array> };
      }),
    entry: (id) => guard('read the run', () => entry(id)),
    put: (record) =>
      guard(`save “${record.name}”`, async () => {
        const { entry: e, files } = splitRecord(record);
        await kv.setMany([
          [FILES + e.id, compactFiles(files)],
          [ENTRY + e.id, e],
        ]);
        changed();
        // Once there is something worth keeping, ask once per page load; the answer shows in StorageMeter.
        if (!askedToPersist) (askedToPersist = true), void requestPersistence();
      }),
    async save(input) {
      // Saving a run again under its id (checkpoint → finished adapter) keeps what the person gave it: its name
      // (perhaps renamed meanwhile) and when it was first saved.
      const before = input.id ? await guard('read the run', () => entry(input.id!)) : null;
      const rec = makeRecord(before ? { ...input, name: input.name ?? before.name, createdAt: input.createdAt ?? before.createdAt } : input);
      await lib.put(rec);
      return splitRecord(rec).entry;
    },
    rename: (id, name) =>
      guard('rename the run', async () => {
        const trimmed = name.trim();
        if (!trimmed) throw new LibraryError('A name cannot be empty.', 'Type at least one character.');
        const e = await entry(id);
        if (!e) throw new LibraryError('This run is no longer in the library.', 'It may have been deleted in another tab; the list is refreshed.');
        // updatedAt stays: it says when the weights were saved, and the list keeps its order
        const renamed = { ...e, name: trimmed.slice(0, 200) };
        await kv.setMany([[ENTRY + id, renamed]]);
        changed();
        return renamed;
      }),
    remove: (id) =>
      guard('delete the run', async () => {
        await kv.delMany([ENTRY + id, FILES + id]);
        changed();
      }),
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  return lib;
}

let shared: Library | null = null;
/** The app's library (IndexedDB). The main app saves runs through it: `library().save({...})`. */
export function library(): Library {
  return (shared ??= openLibrary(idbStore(), { persist: true }));
}

// ---------- the browser's storage quota ----------

export interface StorageInfo {
  usage: number | null;
  quota: number | null;
  /** true when the browser promised not to evict this site's data under storage pressure */
  persisted: boolean | null;
}

export async function storageInfo(): Promise<StorageInfo> {
  const sm = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (!sm) return { usage: null, quota: null, persisted: null };
  const [est, persisted] = await Promise.all([
    sm.estimate ? sm.estimate().catch(() => null) : null,
    sm.persisted ? sm.persisted().catch(() => null) : null,
  ]);
  return { usage: est?.usage ?? null, quota: est?.quota ?? null, persisted };
}

/**
 * Asks the browser not to evict the library under storage pressure. Chrome grants it without a prompt to
 * sites the user engages with; Firefox asks the user. Resolves to the answer, or null where unsupported.
 */
export async function requestPersistence(): Promise<boolean | null> {
  const sm = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (!sm?.persist) return null;
  try {
    if (sm.persisted && (await sm.persisted())) return true;
    return await sm.persist();
  } catch {
    return null;
  }
}
