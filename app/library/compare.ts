// The compare view's data (pure, unit-tested): loss histories of several runs merged into one table of chart
// rows keyed by step, the best value of each column, and what makes two runs not like-for-like.
import { niceTicks, smooth } from './model-card';
import { methodTitle, type LibraryEntry } from './record';

/** A run as the compare view needs it: a library entry, or a run still training (live). */
export type CompareRun = Pick<LibraryEntry, 'id' | 'name' | 'method' | 'history' | 'stats' | 'finalTrainLoss' | 'finalValLoss'> &
  Partial<Pick<LibraryEntry, 'baseModel' | 'settings' | 'adapter' | 'dataName' | 'dataSize' | 'steps' | 'totalSteps'>> & {
    /** still training: drawn dashed, its numbers are not final */
    live?: boolean;
  };

export const PALETTE = ['#1d4ed8', '#d97706', '#15803d', '#b91c1c', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f'];

export const trainKey = (id: string) => `t:${id}`;
export const valKey = (id: string) => `v:${id}`;

export interface ChartOptions {
  /** EMA weight 0..1 on the training loss (0 = raw) */
  smoothing: number;
  /** at most this many training points per run (long runs are strided; the last point is always kept) */
  maxPoints: number;
}

export type ChartRow = { step: number } & Record<string, number>;

function stride<T>(xs: T[], max: number): T[] {
  if (xs.length <= max) return xs;
  const k = Math.ceil(xs.length / max);
  const out = xs.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== xs[xs.length - 1]) out.push(xs[xs.length - 1]);
  return out;
}

/** One row per step that any run has, with each run's (smoothed) training loss and validation loss there. */
export function chartRows(runs: CompareRun[], opts: ChartOptions): ChartRow[] {
  const byStep = new Map<number, ChartRow>();
  const row = (step: number) => {
    let r = byStep.get(step);
    if (!r) byStep.set(step, (r = { step } as ChartRow));
    return r;
  };
  for (const run of runs) {
    const pts = run.history.filter((h) => Number.isFinite(h.loss));
    const ys = opts.smoothing > 0 ? smooth(pts.map((p) => p.loss), opts.smoothing) : pts.map((p) => p.loss);
    const idx = stride(pts.map((_, i) => i), opts.maxPoints);
    for (const i of idx) row(pts[i].step)[trainKey(run.id)] = ys[i];
    // validation points are few (every eval interval): all of them
    for (const p of pts) if (p.valLoss !== undefined && Number.isFinite(p.valLoss)) row(p.step)[valKey(run.id)] = p.valLoss;
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

export type Metric = 'tokensPerSec' | 'peakMemoryBytes' | 'trainableParams' | 'finalTrainLoss' | 'finalValLoss';

export function metricOf(run: CompareRun, m: Metric): number | null {
  const v = m === 'finalTrainLoss' || m === 'finalValLoss' ? run[m] : run.stats[m];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The id of the best run per metric (highest throughput, lowest everything else), when two or more have it. */
export function bestOf(runs: CompareRun[]): Partial<Record<Metric, string>> {
  const out: Partial<Record<Metric, string>> = {};
  const metrics: [Metric, 1 | -1][] = [['tokensPerSec', 1], ['peakMemoryBytes', -1], ['trainableParams', -1], ['finalTrainLoss', -1], ['finalValLoss', -1]];
  for (const [m, sign] of metrics) {
    const have = runs.filter((r) => !r.live).map((r) => [r.id, metricOf(r, m)] as const).filter((x): x is readonly [string, number] => x[1] !== null);
    if (have.length < 2) continue;
    out[m] = have.reduce((best, x) => (sign * x[1] > sign * best[1] ? x : best))[0];
  }
  return out;
}

/** Settings in which the runs differ, in words: curves are only comparable on the same model and data. */
export function differences(runs: CompareRun[]): string[] {
  const out: string[] = [];
  const distinct = <T>(f: (r: CompareRun) => T | undefined | null) => new Set(runs.map(f).filter((v) => v !== undefined && v !== null && v !== '')).size > 1;
  if (distinct((r) => r.baseModel)) out.push('base model');
  if (distinct((r) => r.dataName)) out.push('training data');
  if (distinct((r) => r.settings && `${r.settings.batch}×${r.settings.seq}`)) out.push('batch × sequence');
  if (distinct((r) => r.settings?.steps)) out.push('number of steps');
  if (distinct((r) => r.settings?.seed)) out.push('seed');
  return out;
}

export function runLabel(run: CompareRun): string {
  const r = run.settings?.r ?? run.adapter?.r;
  return `${methodTitle(run.method, run.settings, run.adapter)}${r ? ` r=${r}` : ''}`;
}

/**
 * The runs to show first (runs come newest first): the newest run that has siblings trained like it (same
 * model, data, batch, steps, seed) together with them, at most `max`; when no two runs are alike, simply the
 * newest runs with curves.
 */
export function defaultSelection(runs: CompareRun[], max = 4): string[] {
  const withCurve = runs.filter((r) => r.history.length);
  for (const first of withCurve) {
    const like = withCurve.filter((r) => differences([first, r]).length === 0);
    if (like.length >= 2) return like.slice(0, max).map((r) => r.id);
  }
  return withCurve.slice(0, max).map((r) => r.id);
}

/** Axis bounds padded by 5% and round ticks for a set of values. */
export function axisTicks(values: number[], count = 5): { domain: [number, number]; ticks: number[] } | null {
  const vs = values.filter(Number.isFinite);
  if (!vs.length) return null;
  let lo = Math.min(...vs), hi = Math.max(...vs);
  if (hi - lo < 1e-9) (lo -= 0.5), (hi += 0.5);
  const pad = (hi - lo) * 0.05;
  return { domain: [lo - pad, hi + pad], ticks: niceTicks(lo - pad, hi + pad, count) };
}
