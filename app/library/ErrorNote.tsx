// A failure as the library shows it: what happened, then what to try (LibraryError/AdapterFileError carry a hint).
export function hintOf(e: unknown): string | undefined {
  const h = (e as { hint?: unknown } | null)?.hint;
  return typeof h === 'string' ? h : undefined;
}

export function ErrorNote({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = hintOf(error);
  return (
    <div className="status bad lib-error" role="alert" data-testid="library-error">
      <p>
        <strong>{message}</strong>
      </p>
      {hint && <p>{hint}</p>}
      {onDismiss && (
        <button type="button" className="lib-link" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
