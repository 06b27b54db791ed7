// What a run leaves: the adapter as a zip download, and the checkpoint in the library (saved automatically when a
// run ends, on demand while paused; the same run id replaces its older self).
import { zipSync } from 'fflate';
import { call } from './engine';
import { useTrain, onRunEnd } from './state/train';
import { useData } from './state/data';
import { library } from './library/storage';
import { saveBytes } from './library/download';
import type { HistoryPoint } from './library/record';

export async function downloadAdapter(): Promise<void> {
  try {
    const files = await call((api) => api.exportAdapter());
    const t = useTrain.getState();
    const name = `${t.started?.runId ?? 'weblora-adapter'}.zip`;
    saveBytes(name, zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: k.endsWith('.json') ? 6 : 0 }]]))));
  } catch (e) {
    useTrain.setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

/** The loss history with each validation loss on its step (the library's format). */
export function historyOf(): HistoryPoint[] {
  const { points, evals } = useTrain.getState();
  const val = new Map(evals.map((e) => [e.step, e.loss]));
  const out: HistoryPoint[] = points.map((p) => (val.has(p.step) ? { ...p, valLoss: val.get(p.step)! } : { ...p }));
  return out;
}

let saving: Promise<void> | null = null;

/** Saves the current run's checkpoint (PEFT files + resume state) into the library. */
export async function saveRunToLibrary(): Promise<void> {
  const t = useTrain.getState();
  if (!t.started || !t.request || !t.context) return;
  const run = async () => {
    try {
      const files = await call((api) => api.checkpoint());
      const elapsed = t.progress?.elapsedSec ?? 0;
      const steps = t.points.length ? t.points[t.points.length - 1].step : 0;
      const tokens = steps * t.request!.batch * t.request!.seq * t.request!.gradAccum;
      const { samplePrompts: _p, ...settings } = t.request!;
      await library().save({
        id: t.started!.runId,
        kind: 'checkpoint',
        method: t.request!.method,
        baseModel: t.context!.modelId,
        settings,
        history: historyOf(),
        stats: { tokensPerSec: elapsed > 0 ? tokens / elapsed : null, peakMemoryBytes: t.started!.allocatedBytes, trainableParams: t.started!.trainableParams },
        files,
        steps,
        totalSteps: t.request!.steps,
        dataSize: useData.getState().info?.train ?? null,
        dataName: t.context!.dataset,
        log: useTrain.getState().log,
      });
      useTrain.setState({ savedAt: Date.now() });
    } catch (e) {
      useTrain.setState({ error: `Saving to the library failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  };
  saving = (saving ?? Promise.resolve()).then(run);
  return saving;
}

/** Every run that ends (finished or stopped) goes into the library. */
export function autoSaveRuns(): () => void {
  return onRunEnd(() => void saveRunToLibrary());
}
