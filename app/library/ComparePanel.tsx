// Compare runs: pick several (e.g. LoRA, DoRA and VeRA trained on the same data), overlay their loss curves
// and set throughput, peak memory, trainable parameters and final losses side by side.
import { useMemo, useState } from 'react';
import { library as appLibrary, type Library } from './storage';
import { useLibraryEntries } from './useLibrary';
import { bestOf, chartRows, defaultSelection, differences, metricOf, PALETTE, runLabel, type CompareRun, type Metric } from './compare';
import { LossOverlay } from './LossOverlay';
import { ErrorNote } from './ErrorNote';
import { formatBytes, formatCount, formatLoss, formatRate } from './format';
import './library.css';

export interface ComparePanelProps {
  /** Runs to choose from (e.g. LibraryPanel's onEntries list). Omitted: the panel reads the app's library itself. */
  records?: CompareRun[];
  /** Runs still training (not yet saved): always shown, dashed, updated as their history grows. */
  live?: CompareRun[];
  /** Controlled selection of record ids; omit both to let the panel keep it (starts with the newest run and those trained like it: defaultSelection). */
  selected?: string[];
  onSelectedChange?(ids: string[]): void;
  /** Used when `records` is omitted; the app's IndexedDB library by default. */
  library?: Library;
}

const COLUMNS: [Metric, string, (v: number | null) => string][] = [
  ['tokensPerSec', 'Tokens/s', formatRate],
  ['peakMemoryBytes', 'Peak memory', formatBytes],
  ['trainableParams', 'Trainable params', formatCount],
  ['finalTrainLoss', 'Train loss', formatLoss],
  ['finalValLoss', 'Val loss', formatLoss],
];

const NONE: CompareRun[] = [];

export function ComparePanel({ records, live = NONE, selected, onSelectedChange, library }: ComparePanelProps) {
  const lib = useMemo(() => library ?? appLibrary(), [library]);
  const own = useLibraryEntries(lib, undefined, records === undefined);
  const candidates: CompareRun[] = records ?? own.entries ?? NONE;
  const [ownSelection, setOwnSelection] = useState<string[] | null>(null);
  const [smoothing, setSmoothing] = useState(0.6);
  const [showVal, setShowVal] = useState(true);

  const initial = useMemo(() => defaultSelection(candidates), [candidates]);
  const ids = selected ?? ownSelection ?? initial;
  const setIds = (next: string[]) => (onSelectedChange ? onSelectedChange(next) : setOwnSelection(next));
  const toggle = (id: string) => setIds(ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]);

  const runs = useMemo(() => [...live.map((r) => ({ ...r, live: true })), ...candidates.filter((r) => ids.includes(r.id))], [live, candidates, ids]);
  // A run keeps its colour while others are ticked on and off: colour by position among all candidates.
  const colorOf = (id: string) => {
    const i = [...live.map((r) => r.id), ...candidates.map((r) => r.id)].indexOf(id);
    return PALETTE[Math.max(i, 0) % PALETTE.length];
  };
  const rows = useMemo(() => chartRows(runs, { smoothing, maxPoints: 600 }), [runs, smoothing]);
  const best = bestOf(runs);
  const diffs = differences(runs);

  return (
    <section className="card lib compare" id="compare" data-testid="compare-panel">
      <h2>Compare runs</h2>
      {records === undefined && own.error && <ErrorNote error={own.error} />}
      {!candidates.length && !live.length ? (
        <p className="note" data-testid="compare-empty">
          Train two or more methods on the same data (say LoRA, DoRA and VeRA with the same steps and batch), and their loss
          curves, speed, memory and size appear here side by side.
        </p>
      ) : (
        <>
          <fieldset className="lib-pick">
            <legend>Runs</legend>
            {candidates.map((r) => (
              <label key={r.id} className={ids.includes(r.id) ? 'on' : undefined}>
                <input type="checkbox" checked={ids.includes(r.id)} onChange={() => toggle(r.id)} />
                <span className="lib-swatch" style={{ background: colorOf(r.id) }} aria-hidden />
                {r.name}
                <span className="lib-pick-method">{runLabel(r)}</span>
                {!r.history.length && <span className="lib-pick-method">no curve</span>}
              </label>
            ))}
          </fieldset>

          {runs.length === 0 ? (
            <p className="note">Tick the runs to compare.</p>
          ) : (
            <>
              <div className="lib-chart-opts">
                <label>
                  Smoothing{' '}
                  <input type="range" min={0} max={0.95} step={0.05} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} aria-label="Smoothing" />{' '}
                  <span className="mono">{smoothing.toFixed(2)}</span>
                </label>
                <label>
                  <input type="checkbox" checked={showVal} onChange={(e) => setShowVal(e.target.checked)} /> validation loss (dots)
                </label>
                {runs.some((r) => r.live) && <span>dashed: still training</span>}
              </div>
              {rows.length ? <LossOverlay runs={runs} rows={rows} colorOf={colorOf} showVal={showVal} /> : <p className="note">None of the ticked runs has a loss curve (imported adapters have none).</p>}
              {diffs.length > 0 && (
                <p className="status warn" data-testid="compare-differences">
                  These runs differ in {diffs.join(', ')}: their curves are not a like-for-like comparison of the methods.
                </p>
              )}
              <div className="lib-table-wrap">
                <table className="lib-compare-table" data-testid="compare-table">
                  <thead>
                    <tr>
                      <th>Run</th>
                      <th>Method</th>
                      <th className="num">Steps</th>
                      {COLUMNS.map(([m, label]) => (
                        <th key={m} className="num">
                          {label}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {runs.map((r) => (
                      <tr key={r.id}>
                        <td>
                          <span className="lib-swatch" style={{ background: colorOf(r.id) }} aria-hidden />
                          {r.name}
                          {r.live && <span className="lib-badge">training</span>}
                        </td>
                        <td>{runLabel(r)}</td>
                        <td className="num">{r.steps ?? r.history.at(-1)?.step ?? '—'}</td>
                        {COLUMNS.map(([m, , fmt]) => (
                          <td key={m} className={`num${best[m] === r.id ? ' best' : ''}`} title={best[m] === r.id ? 'best of these runs' : undefined}>
                            {fmt(metricOf(r, m))}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
