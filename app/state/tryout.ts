// The try-out chat: an adapter from the library loaded on its base model, and the exchanges so far.
import { create } from 'zustand';
import { call } from '../engine';

export interface Exchange {
  prompt: string;
  tuned: string;
  base: string | null;
}

interface TryoutState {
  name: string | null;
  describe: string;
  busy: boolean;
  error: string | null;
  exchanges: Exchange[];
  open(name: string, describe: string): void;
  close(): void;
  ask(prompt: string, maxNewTokens: number, compare: boolean): Promise<void>;
}

export const useTryout = create<TryoutState>((set, get) => ({
  name: null,
  describe: '',
  busy: false,
  error: null,
  exchanges: [],
  open: (name, describe) => set({ name, describe, exchanges: [], error: null }),
  close: () => set({ name: null, exchanges: [], error: null }),
  async ask(prompt, maxNewTokens, compare) {
    set({ busy: true, error: null });
    try {
      const tuned = await call((api) => api.generate(prompt, maxNewTokens, true));
      const base = compare ? await call((api) => api.generate(prompt, maxNewTokens, false)) : null;
      set({ exchanges: [...get().exchanges, { prompt, tuned, base }] });
    } catch (e) {
      set({ error: e instanceof Error ? e.message : String(e) });
    } finally {
      set({ busy: false });
    }
  },
}));
