// App state (zustand): what the GPU check found, and which step of the page is open. The model, data, settings
// and run live in app/state/.
import { create } from 'zustand';
import { call, type GpuReport } from './engine';

export type GpuState =
  | { status: 'checking' }
  /** no navigator.gpu: the browser lacks WebGPU, or it is turned off, or the page is not a secure context */
  | { status: 'unsupported'; insecureContext: boolean }
  | { status: 'ready'; report: GpuReport }
  /** navigator.gpu exists but no adapter or device came (blocklisted GPU, driver problem) */
  | { status: 'error'; message: string }
  | { status: 'lost'; report: GpuReport; message: string };

export type Tab = 'model' | 'data' | 'method' | 'train' | 'library' | 'compare' | 'gpu';

interface AppState {
  gpu: GpuState;
  tab: Tab;
  setTab: (t: Tab) => void;
  checkGpu: () => Promise<void>;
}

export const useApp = create<AppState>((set, get) => ({
  gpu: { status: 'checking' },
  tab: 'model',
  setTab: (tab) => set({ tab }),

  async checkGpu() {
    if (!('gpu' in navigator) || !navigator.gpu) {
      set({ gpu: { status: 'unsupported', insecureContext: !window.isSecureContext } });
      return;
    }
    set({ gpu: { status: 'checking' } });
    try {
      const report = await call((api) => api.probe());
      set({ gpu: { status: 'ready', report } });
      call((api) => api.deviceLost()).then(
        (message) => {
          if (get().gpu.status === 'ready') set({ gpu: { status: 'lost', report, message } });
        },
        () => {},
      );
    } catch (e) {
      set({ gpu: { status: 'error', message: e instanceof Error ? e.message : String(e) } });
    }
  },
}));
