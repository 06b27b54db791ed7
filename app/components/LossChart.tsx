// Live loss chart (recharts): train loss raw and smoothed, validation loss, and the learning rate on its own axis.
import { useMemo, useState } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useTrain } from '../state/train';
import { chartRows } from '../chart-data';

const fmt = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? (Math.abs(v) < 0.01 ? v.toExponential(2) : v.toFixed(4)) : String(v));

export function LossChart() {
  const points = useTrain((s) => s.points);
  const evals = useTrain((s) => s.evals);
  const total = useTrain((s) => s.request?.steps ?? 0);
  const [weight, setWeight] = useState(0.9);
  const [showLr, setShowLr] = useState(true);
  const rows = useMemo(() => chartRows(points, evals, weight), [points, evals, weight]);

  return (
    <section className="card chartcard" aria-labelledby="chart-h" data-testid="loss-chart">
      <div className="chart-head">
        <h2 id="chart-h">Loss</h2>
        <label className="inline">
          smoothing
          <input type="range" min={0} max={0.99} step={0.01} value={weight} onChange={(e) => setWeight(Number(e.target.value))} aria-label="Smoothing" />
          <span className="mono">{weight.toFixed(2)}</span>
        </label>
        <label className="inline">
          <input type="checkbox" checked={showLr} onChange={(e) => setShowLr(e.target.checked)} /> learning rate
        </label>
      </div>
      {rows.length === 0 ? (
        <p className="note chart-empty">The chart draws as soon as the first steps are done.</p>
      ) : (
        <div className="chart" data-testid="loss-chart-plot" data-points={points.length} data-evals={evals.length}>
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={rows} margin={{ top: 8, right: 8, bottom: 4, left: 0 }}>
              <CartesianGrid stroke="#e2e6ed" strokeDasharray="3 3" />
              <XAxis dataKey="step" type="number" domain={[0, Math.max(total, 1)]} allowDecimals={false} tick={{ fontSize: 12 }} />
              <YAxis yAxisId="loss" domain={['auto', 'auto']} tick={{ fontSize: 12 }} width={52} tickFormatter={(v: number) => v.toFixed(2)} />
              {showLr && <YAxis yAxisId="lr" orientation="right" tick={{ fontSize: 11 }} width={62} tickFormatter={(v: number) => (v === 0 ? '0' : v.toExponential(1))} />}
              <Tooltip formatter={(v) => fmt(v)} labelFormatter={(s) => `step ${s}`} />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              <Line yAxisId="loss" dataKey="loss" name="train (raw)" stroke="#9db4ea" dot={false} strokeWidth={1} isAnimationActive={false} connectNulls />
              <Line yAxisId="loss" dataKey="smooth" name="train (smoothed)" stroke="#1d4ed8" dot={false} strokeWidth={2} isAnimationActive={false} connectNulls />
              <Line yAxisId="loss" dataKey="val" name="validation" stroke="#d97706" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} connectNulls />
              {showLr && <Line yAxisId="lr" dataKey="lr" name="learning rate" stroke="#15803d" strokeDasharray="4 3" dot={false} strokeWidth={1} isAnimationActive={false} connectNulls />}
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </section>
  );
}
