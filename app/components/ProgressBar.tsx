// A labelled progress bar; determinate when total is known.
export function ProgressBar({ value, total, label, testId }: { value: number; total: number | null; label: string; testId?: string }) {
  const pct = total ? Math.max(0, Math.min(100, (value / total) * 100)) : null;
  return (
    <div className="progress" data-testid={testId}>
      <div
        className={`bar ${pct === null ? 'indeterminate' : ''}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct === null ? undefined : Math.round(pct)}
      >
        <div className="fill" style={{ width: pct === null ? '30%' : `${pct}%` }} />
      </div>
      <div className="progress-label">{label}</div>
    </div>
  );
}
