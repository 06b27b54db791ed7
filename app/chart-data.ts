// The loss chart's rows: train loss raw and smoothed (TensorBoard's debiased exponential moving average), the
// validation loss on its steps, the learning rate; thinned to at most `maxRows` rows so long runs stay cheap to draw.
import type { StepPoint } from './worker/types';

export interface ChartRow {
  step: number;
  loss?: number;
  smooth?: number;
  val?: number;
  lr?: number;
}

export function smoothLosses(points: StepPoint[], weight: number): number[] {
  let last = 0, n = 0;
  return points.map((p) => {
    if (!Number.isFinite(p.loss)) return NaN;
    last = last * weight + (1 - weight) * p.loss;
    n++;
    return last / (1 - weight ** n);
  });
}

export function chartRows(points: StepPoint[], evals: { step: number; loss: number }[], weight = 0.9, maxRows = 400): ChartRow[] {
  const smooth = smoothLosses(points, weight);
  const stride = Math.max(1, Math.ceil(points.length / maxRows));
  const rows = new Map<number, ChartRow>();
  points.forEach((p, i) => {
    if (i % stride !== 0 && i !== points.length - 1) return;
    rows.set(p.step, { step: p.step, loss: p.loss, smooth: smooth[i], lr: p.lr });
  });
  for (const e of evals) rows.set(e.step, { ...(rows.get(e.step) ?? { step: e.step }), val: e.loss });
  return [...rows.values()].sort((a, b) => a.step - b.step);
}
