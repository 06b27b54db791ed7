// The library list as React state: read on mount, re-read on every change (this tab or another) and when the
// parent bumps refreshKey (a run saved elsewhere).
import { useCallback, useEffect, useState } from 'react';
import type { LibraryEntry } from './record';
import type { Library } from './storage';

export interface LibraryState {
  entries: LibraryEntry[] | null;
  /** why the list could not be read */
  error: Error | null;
  reload(): void;
}

/** With `enabled` false nothing is read (a parent supplies the list). */
export function useLibraryEntries(lib: Library, refreshKey?: unknown, enabled = true): LibraryState {
  const [entries, setEntries] = useState<LibraryEntry[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => (enabled ? lib.subscribe(reload) : undefined), [lib, reload, enabled]);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    lib.list().then(
      (list) => live && (setEntries(list), setError(null)),
      (e) => live && setError(e instanceof Error ? e : new Error(String(e))),
    );
    return () => {
      live = false;
    };
  }, [lib, tick, refreshKey, enabled]);
  return { entries, error, reload };
}
