// The page's handle on the engine worker. One worker for the page's lifetime, created on first use.
import * as Comlink from 'comlink';
import type { EngineApi } from './engine.worker';

export type { GpuReport } from './engine.worker';

interface EngineHandle {
  api: Comlink.Remote<EngineApi>;
  /** rejects when the worker script fails to load or throws at top level; comlink calls would otherwise wait forever */
  failed: Promise<never>;
}

let handle: EngineHandle | null = null;

function engine(): EngineHandle {
  if (handle) return handle;
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'weblora-engine' });
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (e) => reject(new Error(`The engine worker failed to start: ${e.message || 'script error'}`)));
  });
  failed.catch(() => {}); // observed by callers through call(); no unhandled rejection otherwise
  handle = { api: Comlink.wrap<EngineApi>(worker), failed };
  return handle;
}

/** Runs one engine call, failing fast if the worker itself died. */
export function call<T>(fn: (api: Comlink.Remote<EngineApi>) => Promise<T>): Promise<T> {
  const h = engine();
  return Promise.race([fn(h.api), h.failed]);
}
