// The memory estimate as a stacked bar (weights / activations / adapter) and the checks against the GPU's limits.
import type { MemoryEstimate } from '../worker/types';
import { formatBytes } from '../format';

export function MemoryEstimateView({ estimate: e }: { estimate: MemoryEstimate }) {
  const parts: [string, number, string][] = [
    ['weights', e.weights, 'seg-w'],
    ['activations', e.activations, 'seg-a'],
    ['adapter + optimizer', e.adapter, 'seg-o'],
  ];
  return (
    <div className="memory" data-testid="memory-estimate">
      <div className="membar" aria-hidden>
        {parts.map(([k, v, c]) => (
          <div key={k} className={c} style={{ width: `${(100 * v) / Math.max(1, e.total)}%` }} />
        ))}
      </div>
      <p className="memtotal">
        About <strong>{formatBytes(e.total)}</strong> of GPU memory:{' '}
        {parts.map(([k, v, c], i) => (
          <span key={k}>
            <span className={`swatch ${c}`} aria-hidden /> {k} {formatBytes(v)}
            {i < parts.length - 1 ? ', ' : ''}
          </span>
        ))}
      </p>
      {e.blockers.length ? (
        <div className="status bad" data-testid="memory-blockers">
          {e.blockers.map((b) => (
            <p key={b}>{b}</p>
          ))}
        </div>
      ) : (
        <p className="status ok small-status">
          <span className="dot" aria-hidden /> Fits this GPU’s limits: largest buffer {formatBytes(e.largestBuffer)} ({e.largestBufferName}) of{' '}
          {formatBytes(Math.min(e.limits.maxBufferSize, e.limits.maxStorageBufferBindingSize))} allowed.
        </p>
      )}
      {e.total > 3 * 2 ** 30 && <p className="note">That is more than many laptop GPUs have: lower the batch or sequence length if training fails.</p>}
    </div>
  );
}
