// The run in numbers: step / total with a bar, losses, throughput, time.
import { useTrain } from '../state/train';
import { formatBytes, formatCount, formatDuration, formatLoss, formatLr } from '../format';
import { ProgressBar } from './ProgressBar';

export function RunStats() {
  const { progress, points, evals, started, request, state, savedAt } = useTrain();
  if (!request) return <p className="note">Settings are on the Method step; the chart and samples appear here once a run starts.</p>;
  const last = points[points.length - 1];
  const val = [...evals].sort((a, b) => a.step - b.step).pop();
  const step = last?.step ?? 0;
  const total = request.steps;
  const stats: [string, string, string][] = [
    ['Train loss', formatLoss(last?.loss), 'stat-loss'],
    ['Validation loss', val ? `${formatLoss(val.loss)} @${val.step}` : '—', 'stat-val'],
    ['Learning rate', last ? formatLr(last.lr) : '—', 'stat-lr'],
    ['Tokens/s', progress ? formatCount(progress.tokensPerSec) : '—', 'stat-tps'],
    ['Elapsed', progress ? formatDuration(progress.elapsedSec) : '—', 'stat-elapsed'],
    ['ETA', progress && state === 'running' ? formatDuration(progress.etaSec) : '—', 'stat-eta'],
    ['Trainable', started ? formatCount(started.trainableParams) : '—', 'stat-params'],
    ['GPU memory', started ? formatBytes(started.allocatedBytes) : '—', 'stat-mem'],
  ];
  return (
    <div className="runstats">
      <ProgressBar value={step} total={total} label={`Step ${step} / ${total}`} testId="train-progress" />
      <dl className="stats">
        {stats.map(([k, v, id]) => (
          <div key={k} className="stat">
            <dt>{k}</dt>
            <dd data-testid={id}>{v}</dd>
          </div>
        ))}
      </dl>
      {savedAt && <p className="note" data-testid="train-saved">Saved to the library.</p>}
    </div>
  );
}
