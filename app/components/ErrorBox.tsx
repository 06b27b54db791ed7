// An error as the page shows it: what happened, the engine's own words, what to try.
import { useEffect, useRef } from 'react';
import { explainError } from '../errors';

export function ErrorBox({ error, onDismiss, testId = 'error' }: { error: unknown; onDismiss?: () => void; testId?: string }) {
  const e = explainError(error);
  const ref = useRef<HTMLDivElement>(null);
  // errors often land below the controls that caused them: bring them into view
  useEffect(() => {
    // a block body: newer browsers return a promise from scrollIntoView, which React would take for a cleanup
    void ref.current?.scrollIntoView({ block: 'nearest' });
  }, [e.detail]);
  return (
    <div ref={ref} className="status bad errorbox" role="alert" data-testid={testId}>
      <p>
        <strong>{e.title}</strong>
      </p>
      <p className="mono detail">{e.detail}</p>
      <p>
        <span className="try">What to try:</span> {e.hint}
      </p>
      {onDismiss && (
        <button className="secondary small-btn" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
