// The adapter library: every checkpoint and finished adapter kept in this browser (IndexedDB), with rename,
// delete (undoable while the page is open), download as a zip, resume, try-out, and import of PEFT adapters.
// The engine work (resume, try-out) belongs to the main app: this panel hands it the full record.
import { useEffect, useMemo, useRef, useState } from 'react';
import { library as appLibrary, type Library } from './storage';
import type { LibraryEntry, LibraryRecord } from './record';
import { useLibraryEntries } from './useLibrary';
import { LibraryItem, type ItemAction } from './LibraryItem';
import { ImportDrop } from './ImportDrop';
import { StorageMeter } from './StorageMeter';
import { ErrorNote } from './ErrorNote';
import { buildDownloadZip, readDropped, recordFromFiles, CHECKPOINT_FILES, AdapterFileError, type DroppedFile } from './zip';
import { saveBytes } from './download';
import './library.css';

export interface LibraryPanelProps {
  /**
   * Resume training from a checkpoint (offered for kind 'checkpoint' records that have settings and the
   * weblora.json / weblora-state.safetensors files). The main app starts a TrainingSession with
   * `settings: record.settings` and `resume: memorySource(record.files)`. A rejection is shown in the panel.
   * Omit to hide the action.
   */
  onResume?(record: LibraryRecord): void | Promise<unknown>;
  /** Load the record's adapter (memorySource(record.files)) for a chat try-out. Omit to hide the action. */
  onTryOut?(record: LibraryRecord): void | Promise<unknown>;
  /** Bump after saving a run through another Library instance; saves through library() refresh by themselves. */
  refreshKey?: unknown;
  /** True while the engine trains: try-out and resume are disabled (one GPU job at a time). */
  engineBusy?: boolean;
  /** Called with the list whenever it changes (e.g. to feed ComparePanel's records). */
  onEntries?(entries: LibraryEntry[]): void;
  /** The library to show; the app's IndexedDB library by default (tests pass openLibrary(memoryStore())). */
  library?: Library;
}

type Notice = { text: string; undo?: () => Promise<void> };

export function LibraryPanel({ onResume, onTryOut, refreshKey, engineBusy = false, onEntries, library }: LibraryPanelProps) {
  const lib = useMemo(() => library ?? appLibrary(), [library]);
  const { entries, error: listError, reload } = useLibraryEntries(lib, refreshKey);
  const [pending, setPending] = useState<Record<string, ItemAction>>({});
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [importing, setImporting] = useState(false);

  // Latest callback in a ref: a parent passing an inline function must not re-fire it on every render.
  const onEntriesRef = useRef(onEntries);
  onEntriesRef.current = onEntries;
  useEffect(() => {
    if (entries) onEntriesRef.current?.(entries);
  }, [entries]);

  /** Runs one action on one entry: marks it pending, shows any failure with its hint, never loses the entry. */
  const act = async (id: string, action: ItemAction, fn: () => Promise<void>) => {
    setPending((p) => ({ ...p, [id]: action }));
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setPending(({ [id]: _, ...rest }) => rest);
    }
  };

  const load = async (e: LibraryEntry): Promise<LibraryRecord> => {
    const rec = await lib.get(e.id);
    if (!rec) throw new AdapterFileError(`“${e.name}” is no longer in the library.`, 'It may have been deleted in another tab.');
    return rec;
  };

  const onAction = (e: LibraryEntry, action: Exclude<ItemAction, 'rename'>) =>
    act(e.id, action, async () => {
      if (action === 'download') {
        const { fileName, bytes } = await buildDownloadZip(await load(e));
        saveBytes(fileName, bytes);
      } else if (action === 'tryout') {
        await onTryOut?.(await load(e));
      } else if (action === 'resume') {
        const rec = await load(e);
        const missing = CHECKPOINT_FILES.filter((f) => !rec.files[f]);
        if (missing.length) throw new AdapterFileError(`“${e.name}” lacks ${missing.join(' and ')}, so training cannot resume from it.`, 'Try it out or download it; to train further, start a new run.');
        await onResume?.(rec);
      } else if (action === 'delete') {
        // Kept in memory so the deletion can be undone while the page is open.
        const rec = await lib.get(e.id).catch(() => null);
        await lib.remove(e.id);
        setNotice({ text: `Deleted “${e.name}”.`, undo: rec ? () => lib.put(rec) : undefined });
      }
    });

  const onRename = (e: LibraryEntry, name: string) => act(e.id, 'rename', async () => void (await lib.rename(e.id, name)));

  const onImport = async (dropped: DroppedFile[]) => {
    setImporting(true);
    setError(null);
    setNotice(null);
    try {
      const { files, where, name } = await readDropped(dropped);
      const rec = recordFromFiles(files, where, { name });
      await lib.put(rec);
      setNotice({ text: `Imported “${rec.name}” (${rec.kind === 'checkpoint' ? 'a resumable checkpoint' : 'a PEFT adapter'}).` });
    } catch (e) {
      setError(e);
    } finally {
      setImporting(false);
    }
  };

  const undo = async (n: Notice) => {
    setNotice(null);
    try {
      await n.undo?.();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section className="card lib" id="library" data-testid="library-panel" aria-busy={entries === null}>
      <div className="lib-head">
        <h2>Library</h2>
        <StorageMeter version={entries} />
      </div>

      {listError && (
        <div>
          <ErrorNote error={listError} />
          <button type="button" onClick={reload}>
            Try again
          </button>
        </div>
      )}
      {error !== null && <ErrorNote error={error} onDismiss={() => setError(null)} />}
      {notice && (
        <p className="status ok lib-notice" role="status" data-testid="library-notice">
          {notice.text}
          {notice.undo && (
            <button type="button" className="lib-link" onClick={() => void undo(notice)}>
              Undo
            </button>
          )}
        </p>
      )}

      <ImportDrop onFiles={(f) => void onImport(f)} busy={importing} />

      {entries === null && !listError && (
        <p className="status checking">
          <span className="spinner" aria-hidden /> Reading the library…
        </p>
      )}
      {entries?.length === 0 && (
        <p className="note lib-empty" data-testid="library-empty">
          Nothing saved yet. Finished adapters and checkpoints of your training runs are kept here, in this browser, until you delete them.
        </p>
      )}
      {!!entries?.length && (
        <ul className="lib-list" data-testid="library-list">
          {entries.map((e) => (
            <LibraryItem
              key={e.id}
              entry={e}
              pending={pending[e.id] ?? null}
              canResume={!!onResume && e.kind === 'checkpoint' && e.settings !== null}
              canTryOut={!!onTryOut}
              engineBusy={engineBusy}
              onAction={(a) => void onAction(e, a)}
              onRename={(name) => void onRename(e, name)}
            />
          ))}
        </ul>
      )}
    </section>
  );
}
