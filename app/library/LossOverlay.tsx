// Several runs' loss curves on one chart (recharts): one solid line per run for the training loss, dots on a
// dotted line of the same colour for its validation loss (kept out of the legend: one entry per run); step on x.
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { axisTicks, trainKey, valKey, type ChartRow, type CompareRun } from './compare';
import { niceTicks } from './model-card';

export interface LossOverlayProps {
  runs: CompareRun[];
  rows: ChartRow[];
  colorOf(id: string): string;
  showVal: boolean;
  height?: number;
}

export function LossOverlay({ runs, rows, colorOf, showVal, height = 320 }: LossOverlayProps) {
  const names = new Map<string, string>();
  for (const r of runs) {
    names.set(trainKey(r.id), r.name + (r.live && !/training/i.test(r.name) ? ' (training)' : ''));
    names.set(valKey(r.id), `${r.name} (validation)`);
  }
  const steps = rows.map((r) => r.step);
  const xTicks = steps.length > 1 ? niceTicks(steps[0], steps[steps.length - 1], 6) : steps;
  const y = axisTicks(rows.flatMap((r) => Object.entries(r).flatMap(([k, v]) => (k === 'step' || (!showVal && k.startsWith('v:')) ? [] : [v]))));
  return (
    <div className="lib-chart" data-testid="compare-chart">
      <ResponsiveContainer width="100%" height={height}>
        <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
          <CartesianGrid stroke="#e2e6ed" strokeDasharray="3 3" />
          <XAxis dataKey="step" type="number" domain={['dataMin', 'dataMax']} ticks={xTicks} allowDecimals={false} tick={{ fontSize: 12 }} label={{ value: 'step', position: 'insideBottomRight', offset: -4, fontSize: 12 }} />
          <YAxis domain={y?.domain ?? ['auto', 'auto']} ticks={y?.ticks} tick={{ fontSize: 12 }} width={56} tickFormatter={(v: number) => String(v)} />
          <Tooltip
            formatter={(v, key) => [typeof v === 'number' ? v.toFixed(4) : String(v), names.get(String(key)) ?? String(key)]}
            labelFormatter={(s) => `step ${s}`}
          />
          <Legend formatter={(key) => names.get(String(key)) ?? String(key)} wrapperStyle={{ fontSize: 12 }} />
          {runs.map((r) => (
            <Line
              key={trainKey(r.id)}
              dataKey={trainKey(r.id)}
              stroke={colorOf(r.id)}
              strokeWidth={2}
              strokeDasharray={r.live ? '6 3' : undefined}
              dot={false}
              connectNulls
              isAnimationActive={false}
            />
          ))}
          {showVal &&
            runs
              .filter((r) => r.history.some((h) => h.valLoss !== undefined))
              .map((r) => (
                <Line
                  key={valKey(r.id)}
                  dataKey={valKey(r.id)}
                  stroke={colorOf(r.id)}
                  strokeWidth={1}
                  strokeDasharray="2 4"
                  dot={{ r: 3, fill: colorOf(r.id) }}
                  connectNulls
                  isAnimationActive={false}
                  legendType="none"
                />
              ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
