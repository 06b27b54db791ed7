// The base model: where it comes from, how far loading/downloading has got, and its card once loaded.
import { create } from 'zustand';
import * as Comlink from 'comlink';
import { call } from '../engine';
import type { LoadProgress, ModelInfo, ModelSource } from '../worker/types';

export type ModelStatus = 'idle' | 'loading' | 'ready' | 'error';

interface ModelState {
  status: ModelStatus;
  /** what is being loaded, for the progress line */
  loadingLabel: string;
  progress: (LoadProgress & { startedAt: number }) | null;
  info: ModelInfo | null;
  error: string | null;
  /** bumps on every successful load, so dependants (dataset, plan) refresh */
  version: number;
  load(src: ModelSource, label: string): Promise<boolean>;
}

export const useModel = create<ModelState>((set, get) => ({
  status: 'idle',
  loadingLabel: '',
  progress: null,
  info: null,
  error: null,
  version: 0,

  async load(src, label) {
    const startedAt = performance.now();
    set({ status: 'loading', loadingLabel: label, progress: null, error: null });
    try {
      const info = await call((api) => api.loadModel(src, Comlink.proxy((p: LoadProgress) => set({ progress: { ...p, startedAt } }))));
      set({ status: 'ready', info, progress: null, version: get().version + 1 });
      return true;
    } catch (e) {
      // a failed load leaves the previous model loaded in the worker
      set({ status: get().info ? 'ready' : 'error', error: e instanceof Error ? e.message : String(e), progress: null });
      return false;
    }
  },
}));
