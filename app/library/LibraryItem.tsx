// One saved run in the library list: what it is at a glance, and what can be done with it.
import { useRef, useState } from 'react';
import { methodTitle, type LibraryEntry } from './record';
import { formatBytes, formatCount, formatDate, formatLoss } from './format';

export type ItemAction = 'tryout' | 'resume' | 'download' | 'delete' | 'rename';

export interface LibraryItemProps {
  entry: LibraryEntry;
  /** the action in progress on this entry, if any */
  pending: ItemAction | null;
  /** resume is offered only for checkpoints with settings, and when the parent provides it */
  canResume: boolean;
  canTryOut: boolean;
  /** the engine is busy (training): actions that need it are disabled */
  engineBusy: boolean;
  onAction(action: Exclude<ItemAction, 'rename'>): void;
  onRename(name: string): void;
}

export function LibraryItem({ entry: e, pending, canResume, canTryOut, engineBusy, onAction, onRename }: LibraryItemProps) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(e.name);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const busy = pending !== null;
  const model = e.baseModel.split('/').pop() || 'unknown model';
  const r = e.settings?.r ?? e.adapter?.r;

  // Escape cancels; the blur that follows the input's removal must not then save the draft.
  const cancelled = useRef(false);
  const commit = () => {
    if (cancelled.current || !editing) return;
    setEditing(false);
    if (draft.trim() && draft.trim() !== e.name) onRename(draft);
  };
  const startEditing = () => {
    cancelled.current = false;
    setDraft(e.name);
    setEditing(true);
  };

  return (
    <li className="lib-item" data-testid="library-item" data-id={e.id}>
      <div className="lib-item-head">
        {editing ? (
          <form onSubmit={(ev) => (ev.preventDefault(), commit())} className="lib-rename">
            <input
              autoFocus
              value={draft}
              aria-label="New name"
              maxLength={200}
              onChange={(ev) => setDraft(ev.target.value)}
              onKeyDown={(ev) => ev.key === 'Escape' && ((cancelled.current = true), setEditing(false))}
              onBlur={commit}
            />
          </form>
        ) : (
          <span className="lib-name" title={e.name}>
            {e.name}
          </span>
        )}
        {!editing && (
          <button type="button" className="lib-link" disabled={busy} onClick={startEditing} aria-label={`Rename ${e.name}`}>
            rename
          </button>
        )}
        <span className="lib-badge">{methodTitle(e.method, e.settings, e.adapter)}{r ? ` r=${r}` : ''}</span>
        <span className={`lib-badge ${e.kind}`}>{e.kind === 'checkpoint' ? 'checkpoint' : e.source === 'imported' ? 'imported' : 'adapter'}</span>
      </div>

      <dl className="lib-facts">
        <div>
          <dt>Base model</dt>
          <dd title={e.baseModel}>{model}</dd>
        </div>
        <div>
          <dt>Saved</dt>
          <dd title={new Date(e.updatedAt).toLocaleString()}>{formatDate(e.updatedAt)}</dd>
        </div>
        <div>
          <dt>Steps</dt>
          <dd>{e.steps ? (e.totalSteps && e.totalSteps !== e.steps ? `${e.steps} / ${e.totalSteps}` : e.steps) : '—'}</dd>
        </div>
        <div>
          <dt>Train loss</dt>
          <dd>{formatLoss(e.finalTrainLoss)}</dd>
        </div>
        <div>
          <dt>Val loss</dt>
          <dd>{formatLoss(e.finalValLoss)}</dd>
        </div>
        <div>
          <dt>Params</dt>
          <dd>{formatCount(e.stats.trainableParams)}</dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd>{formatBytes(e.sizeBytes)}</dd>
        </div>
      </dl>

      {confirmDelete ? (
        <div className="lib-actions lib-confirm" role="group" aria-label="Confirm delete">
          <span>Delete “{e.name}” from this browser? This cannot be undone.</span>
          <button type="button" className="danger" onClick={() => (setConfirmDelete(false), onAction('delete'))}>
            Delete
          </button>
          <button type="button" className="secondary" onClick={() => setConfirmDelete(false)}>
            Keep
          </button>
        </div>
      ) : (
        <div className="lib-actions">
          {canTryOut && (
            <button type="button" disabled={busy || engineBusy} onClick={() => onAction('tryout')} title="Load this adapter and chat with the model">
              {pending === 'tryout' ? 'Loading…' : 'Try it out'}
            </button>
          )}
          {canResume && (
            <button type="button" disabled={busy || engineBusy} onClick={() => onAction('resume')} title="Continue training from this checkpoint">
              {pending === 'resume' ? 'Loading…' : 'Resume training'}
            </button>
          )}
          <button type="button" className="secondary" disabled={busy} onClick={() => onAction('download')} title="A zip with the PEFT files, a model card and the training log">
            {pending === 'download' ? 'Preparing…' : 'Download zip'}
          </button>
          <button type="button" className="secondary danger-text" disabled={busy} onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
          {engineBusy && (canTryOut || canResume) && <span className="note">The engine is busy training.</span>}
        </div>
      )}
    </li>
  );
}
