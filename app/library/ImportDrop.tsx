// Import of PEFT adapters: drop a zip, a folder or the two files here, or pick them. Folders dropped from the
// OS come as FileSystemDirectoryEntry trees (DataTransferItem.webkitGetAsEntry), which are walked for paths.
import { useRef, useState, type DragEvent } from 'react';
import { droppedFromList, type DroppedFile } from './zip';

function entryFiles(entry: FileSystemEntry, prefix: string): Promise<DroppedFile[]> {
  const path = prefix + entry.name;
  if (entry.isFile) {
    return new Promise((resolve, reject) => (entry as FileSystemFileEntry).file((file) => resolve([{ path, file }]), reject));
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    // readEntries returns at most 100 entries per call (Chrome): read until it returns none
    const next = () =>
      reader.readEntries((batch) => {
        if (!batch.length) {
          Promise.all(all.map((e) => entryFiles(e, path + '/'))).then((lists) => resolve(lists.flat()), reject);
          return;
        }
        all.push(...batch);
        next();
      }, reject);
    next();
  });
}

async function droppedFiles(dt: DataTransfer): Promise<DroppedFile[]> {
  const entries = Array.from(dt.items)
    .map((i) => (i.kind === 'file' ? i.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (!entries.length) return droppedFromList(dt.files);
  return (await Promise.all(entries.map((e) => entryFiles(e, '')))).flat();
}

export function ImportDrop({ onFiles, busy }: { onFiles(files: DroppedFile[]): void; busy: boolean }) {
  const [over, setOver] = useState(false);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (busy) return;
    // The DataTransfer is emptied once the handler returns: take its entries synchronously, read them after.
    void droppedFiles(e.dataTransfer).then(onFiles, () => onFiles([]));
  };

  return (
    <div
      className={`lib-drop${over ? ' over' : ''}`}
      data-testid="library-import"
      onDragOver={(e) => (e.preventDefault(), setOver(true))}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      {busy ? (
        <span className="status checking lib-inline">
          <span className="spinner" aria-hidden /> Checking the adapter files…
        </span>
      ) : (
        <>
          <span>
            Import a PEFT adapter: drop a <strong>zip</strong>, an <strong>adapter folder</strong>, or{' '}
            <code>adapter_config.json</code> with <code>adapter_model.safetensors</code> here, or
          </span>{' '}
          <button type="button" className="lib-link" onClick={() => filesInput.current?.click()}>
            choose files
          </button>{' '}
          /{' '}
          <button type="button" className="lib-link" onClick={() => folderInput.current?.click()}>
            a folder
          </button>
        </>
      )}
      <input
        ref={filesInput}
        type="file"
        multiple
        accept=".zip,.json,.safetensors"
        hidden
        data-testid="library-import-files"
        onChange={(e) => (e.target.files?.length && onFiles(droppedFromList(e.target.files)), (e.target.value = ''))}
      />
      <input
        ref={folderInput}
        type="file"
        hidden
        {...{ webkitdirectory: '' }}
        onChange={(e) => (e.target.files?.length && onFiles(droppedFromList(e.target.files)), (e.target.value = ''))}
      />
    </div>
  );
}
