// The Library and Compare steps: the library's own panels (app/library), wired to the engine: resume a checkpoint,
// try an adapter out, and the run in progress drawn live over the saved ones.
import { useMemo, useState } from 'react';
import { LibraryPanel, ComparePanel, methodTitle, type CompareRun, type LibraryEntry } from '../library';
import { useTrain, isActive } from '../state/train';
import { finalOf, historyOf } from '../run-files';
import { resumeRecord, tryOutRecord } from '../library-actions';
import { TryOut } from './TryOut';

export function LibraryTabs({ tab }: { tab: 'library' | 'compare' }) {
  const busy = isActive(useTrain((s) => s.state));
  const [entries, setEntries] = useState<LibraryEntry[] | undefined>(undefined);
  const live = useLiveRun();
  if (tab === 'compare') return <ComparePanel records={entries} live={live} />;
  return (
    <div className="stack">
      <TryOut />
      <LibraryPanel onResume={resumeRecord} onTryOut={tryOutRecord} engineBusy={busy} onEntries={setEntries} />
    </div>
  );
}

/** The run still training, as the compare view draws it (dashed, growing). */
function useLiveRun(): CompareRun[] {
  const { state, started, request, points, evals, progress } = useTrain();
  return useMemo(() => {
    if (!started || !request || !(isActive(state) || state === 'paused')) return [];
    const history = historyOf();
    const f = finalOf(history);
    return [{
      id: started.runId, name: `${methodTitle(request.method)} (training)`, method: request.method, history, live: true,
      stats: { tokensPerSec: progress?.tokensPerSec ?? null, peakMemoryBytes: started.allocatedBytes, trainableParams: started.trainableParams },
      finalTrainLoss: f.train, finalValLoss: f.val, settings: request as never,
    }];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state, started, request, points, evals, progress]);
}
