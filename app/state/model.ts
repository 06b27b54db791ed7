// The base model: where it comes from, how far loading/downloading has got, and its card once loaded.
import { create } from 'zustand';
import * as Comlink from 'comlink';
import { call } from '../engine';
import type { LoadProgress, ModelInfo, ModelSource } from '../worker/types';

export type ModelStatus = 'idle' | 'loading' | 'ready' | 'error';

/** The last built-in or Hub model, loaded again on the next visit (a dropped folder cannot be: the person drops it). */
const LAST_KEY = 'weblora-last-model';
type Remembered = { kind: 'demo' | 'demo-tiny' } | { kind: 'hub'; repo: string; endpoint?: string };

export function rememberedModel(): { src: Remembered; label: string } {
  try {
    const v = JSON.parse(localStorage.getItem(LAST_KEY) ?? 'null') as Remembered | null;
    if (v?.kind === 'demo-tiny') return { src: v, label: 'WebLoRA demo-tiny (built in)' };
    if (v?.kind === 'hub' && typeof v.repo === 'string')
      return { src: { kind: 'hub', repo: v.repo, ...(typeof v.endpoint === 'string' && { endpoint: v.endpoint }) }, label: `${v.repo} from the Hub (cached)` };
  } catch {
    // storage unavailable or a damaged value: first-visit default
  }
  return { src: { kind: 'demo' }, label: 'WebLoRA demo (built in)' };
}

function remember(src: ModelSource) {
  // the access token is never stored
  const v: Remembered | null = src.kind === 'hub' ? { kind: 'hub', repo: src.repo, ...(src.endpoint && { endpoint: src.endpoint }) } : src.kind === 'files' ? null : { kind: src.kind };
  try {
    if (v) localStorage.setItem(LAST_KEY, JSON.stringify(v));
  } catch {
    // private mode: nothing to remember
  }
}

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
      remember(src);
      return true;
    } catch (e) {
      // a failed load leaves the previous model loaded in the worker; a remembered one that fails falls back to the demo
      if (!get().info && src.kind === 'hub') localStorage.removeItem(LAST_KEY);
      set({ status: get().info ? 'ready' : 'error', error: e instanceof Error ? e.message : String(e), progress: null });
      return false;
    }
  },
}));
