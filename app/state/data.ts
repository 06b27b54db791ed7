// The dataset: the file (or demo) chosen, the options it is read with, and what the worker made of it.
import { create } from 'zustand';
import { call } from '../engine';
import type { DataOptions, DatasetInfo } from '../worker/types';

export type DataStatus = 'idle' | 'loading' | 'ready' | 'error';

interface DataState {
  status: DataStatus;
  info: DatasetInfo | null;
  options: DataOptions;
  error: string | null;
  /** bad rows of a file that had no usable example at all */
  loadDemo(name: string): Promise<void>;
  loadFile(file: File): Promise<void>;
  setOptions(o: Partial<DataOptions>): Promise<void>;
  /** after the model changed: the same file tokenized with the new tokenizer */
  refresh(): Promise<void>;
  /** the demo dataset of the last visit, if any */
  restore(): Promise<void>;
}

/** The last demo dataset and the reading options, restored on the next visit (a file of one's own is not kept). */
const LAST_KEY = 'weblora-last-data';
function remembered(): { demo: string | null; options: DataOptions } {
  try {
    const v = JSON.parse(localStorage.getItem(LAST_KEY) ?? 'null');
    if (v && typeof v === 'object') return { demo: typeof v.demo === 'string' ? v.demo : null, options: { ...DEFAULT_DATA_OPTIONS, ...v.options } };
  } catch {
    // no storage or a damaged value
  }
  return { demo: null, options: DEFAULT_DATA_OPTIONS };
}
function remember(demo: string | null, options: DataOptions) {
  try {
    localStorage.setItem(LAST_KEY, JSON.stringify({ demo, options }));
  } catch {
    // private mode
  }
}

export const DEFAULT_DATA_OPTIONS: DataOptions = { format: 'auto', maskPrompt: true, valPercent: 10, valMax: 64, seq: 128, seed: 42 };

export const useData = create<DataState>((set, get) => {
  const run = async (fn: () => Promise<DatasetInfo | null>) => {
    set({ status: 'loading', error: null });
    try {
      const info = await fn();
      set({ status: info ? 'ready' : 'idle', info });
    } catch (e) {
      set({ status: 'error', error: e instanceof Error ? e.message : String(e), info: null });
    }
  };
  let demo: string | null = null;
  return {
    status: 'idle',
    info: null,
    options: remembered().options,
    error: null,
    async loadDemo(name) {
      demo = name;
      remember(demo, get().options);
      await run(() => call((api) => api.loadDataset({ kind: 'demo', name }, get().options)));
    },
    async loadFile(file) {
      demo = null;
      remember(demo, get().options);
      await run(() => call((api) => api.loadDataset({ kind: 'file', file }, get().options)));
    },
    async restore() {
      const r = remembered().demo;
      if (r && !get().info && get().status !== 'loading') await get().loadDemo(r);
    },
    async setOptions(o) {
      const options = { ...get().options, ...o };
      set({ options });
      remember(demo, options);
      if (get().info || get().status === 'error') await run(() => call((api) => api.reprepareDataset(options)));
    },
    async refresh() {
      if (get().info) await run(() => call((api) => api.reprepareDataset(get().options)));
    },
  };
});
