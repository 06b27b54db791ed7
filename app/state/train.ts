// The current training run as the page sees it: state, the loss/lr/validation series, progress and samples, fed by
// the worker's events (comlink proxies; the worker never waits for them).
import { create } from 'zustand';
import * as Comlink from 'comlink';
import { call } from '../engine';
import type { ProgressInfo, RunStarted, RunState, Sample, StepPoint, TrainEvents, TrainRequest } from '../worker/types';

export interface EvalPoint {
  step: number;
  loss: number;
}

interface TrainState {
  state: RunState;
  detail: string;
  request: TrainRequest | null;
  started: RunStarted | null;
  points: StepPoint[];
  evals: EvalPoint[];
  progress: ProgressInfo | null;
  samples: { step: number; samples: Sample[] } | null;
  log: string[];
  error: string | null;
  /** model id and dataset name the run trained on (library records) */
  context: { modelId: string; dataset: string } | null;
  /** when the run was last saved to the library */
  savedAt: number | null;
  start(req: TrainRequest, context: { modelId: string; dataset: string }, resume?: Record<string, Uint8Array>, runId?: string): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/** Callbacks run when a run ends (finished or stopped): the library saves it. */
const endListeners = new Set<(state: RunState) => void>();
export function onRunEnd(fn: (state: RunState) => void): () => void {
  endListeners.add(fn);
  return () => endListeners.delete(fn);
}

export const useTrain = create<TrainState>((set, get) => ({
  state: 'idle',
  detail: '',
  request: null,
  started: null,
  points: [],
  evals: [],
  progress: null,
  samples: null,
  log: [],
  error: null,
  context: null,
  savedAt: null,

  async start(req, context, resume, runId) {
    set({ state: 'preparing', detail: 'starting', request: req, started: null, points: [], evals: [], progress: null, samples: null, log: [], error: null, context, savedAt: null });
    const events: TrainEvents = {
      state(state, detail) {
        set({ state, detail: detail ?? '', ...(state === 'error' ? { error: detail ?? 'training failed' } : {}) });
        if (state === 'finished' || state === 'stopped') for (const fn of endListeners) fn(state);
      },
      started: (info) => set({ started: info }),
      steps: (recs) => set({ points: [...get().points, ...recs] }),
      progress: (p) => set({ progress: p }),
      evaluated: (e) => set({ evals: [...get().evals.filter((x) => x.step !== e.step), e] }),
      samples: (s) => set({ samples: s }),
      log: (msg) => set({ log: [...get().log.slice(-50), msg] }),
    };
    try {
      await call((api) => api.startTraining(req, Comlink.proxy(events), resume, runId));
    } catch (e) {
      set({ state: 'error', error: e instanceof Error ? e.message : String(e) });
    }
  },
  async pause() {
    await call((api) => api.pause());
  },
  async resume() {
    await call((api) => api.resume());
  },
  async stop() {
    await call((api) => api.stop());
  },
}));

export const isActive = (s: RunState) => s === 'preparing' || s === 'running' || s === 'pausing' || s === 'stopping';
