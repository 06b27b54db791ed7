// What a run leaves: the adapter as a zip download, and the run in the library: a finished run as its adapter, a
// stopped or paused one as a resumable checkpoint (saved automatically when a run ends, on demand while paused;
// the same run id replaces its older self).
import { zipSync } from 'fflate';
import { call } from './engine';
import { useTrain, onRunEnd } from './state/train';
import { useData } from './state/data';
import { library } from './library/storage';
import { saveBytes } from './library/download';
import type { HistoryPoint, RecordKind } from './library/record';
import type { RunState } from './worker/types';

export async function downloadAdapter(): Promise<void> {
  try {
    const files = await call((api) => api.exportAdapter());
    const name = `${useTrain.getState().started?.runId ?? 'weblora-adapter'}.zip`;
    saveBytes(name, zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: k.endsWith('.json') ? 6 : 0 }]]))));
  } catch (e) {
    useTrain.setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

/** The loss history with each validation loss on its step (the library's format). */
export function historyOf(): HistoryPoint[] {
  const { points, evals } = useTrain.getState();
  const val = new Map(evals.map((e) => [e.step, e.loss]));
  return points.map((p) => (val.has(p.step) ? { ...p, valLoss: val.get(p.step)! } : { ...p }));
}

export function finalOf(h: HistoryPoint[]): { train: number | null; val: number | null } {
  let train: number | null = null, val: number | null = null;
  for (const p of h) {
    if (Number.isFinite(p.loss)) train = p.loss;
    if (p.valLoss !== undefined) val = p.valLoss;
  }
  return { train, val };
}

let saving: Promise<void> = Promise.resolve();

/** Saves the current run into the library: its adapter when finished, else a checkpoint that can resume. */
export function saveRunToLibrary(kind: RecordKind = 'checkpoint'): Promise<void> {
  const run = async () => {
    const t = useTrain.getState();
    if (!t.started || !t.request || !t.context || !t.points.length) return; // nothing trained yet: nothing to keep
    try {
      const files = await call((api) => (kind === 'adapter' ? api.exportAdapter() : api.checkpoint()));
      const elapsed = t.progress?.elapsedSec ?? 0;
      const steps = t.points.length ? t.points[t.points.length - 1].step : 0;
      const tokens = steps * t.request.batch * t.request.seq * t.request.gradAccum;
      const { samplePrompts: _prompts, ...settings } = t.request;
      await library().save({
        id: t.started.runId,
        kind,
        method: t.request.method,
        baseModel: t.context.modelId,
        settings,
        history: historyOf(),
        stats: { tokensPerSec: elapsed > 0 ? tokens / elapsed : null, peakMemoryBytes: t.started.allocatedBytes, trainableParams: t.started.trainableParams },
        files,
        steps,
        totalSteps: t.request.steps,
        dataSize: useData.getState().info?.train ?? null,
        dataName: t.context.dataset,
        log: t.log,
      });
      useTrain.setState({ savedAt: Date.now() });
    } catch (e) {
      useTrain.setState({ error: `Saving to the library failed: ${e instanceof Error ? e.message : String(e)}. The run is still here: download the adapter instead.` });
    }
  };
  saving = saving.then(run);
  return saving;
}

/** Every run that ends goes into the library: finished → adapter, stopped → checkpoint. */
export function autoSaveRuns(): () => void {
  const off = onRunEnd((state: RunState) => void saveRunToLibrary(state === 'finished' ? 'adapter' : 'checkpoint'));
  return () => void off();
}
