// A drop target with buttons for the same thing by keyboard or mouse: pick files, or pick a folder.
import { useRef, useState, type ReactNode } from 'react';
import { filesFromDrop, filesFromInput, hasDirectoryPicker, pickDirectory, type PathFile } from '../files';

interface Props {
  onFiles(files: PathFile[]): void;
  title: ReactNode;
  hint?: ReactNode;
  /** offer a folder pick (model folders) */
  folder?: boolean;
  /** offer picking files (datasets; a model's files one by one) */
  files?: boolean;
  accept?: string;
  multiple?: boolean;
  disabled?: boolean;
  testId: string;
}

export function DropZone({ onFiles, title, hint, folder, files = true, accept, multiple, disabled, testId }: Props) {
  const [over, setOver] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const dirInput = useRef<HTMLInputElement>(null);

  const give = (f: PathFile[]) => {
    if (f.length && !disabled) onFiles(f);
  };
  const chooseFolder = async () => {
    // the File System Access picker where there is one; <input webkitdirectory> elsewhere
    if (hasDirectoryPicker()) {
      const picked = await pickDirectory();
      if (picked) return give(picked);
    }
    dirInput.current?.click();
  };

  return (
    <div
      className={`dropzone ${over ? 'over' : ''} ${disabled ? 'disabled' : ''}`}
      data-testid={testId}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={async (e) => {
        e.preventDefault();
        setOver(false);
        give(await filesFromDrop(e.dataTransfer));
      }}
    >
      <div className="drop-title">{title}</div>
      {hint && <div className="drop-hint">{hint}</div>}
      <div className="drop-buttons">
        {folder && (
          <button type="button" className="secondary" disabled={disabled} onClick={() => void chooseFolder()}>
            Choose folder…
          </button>
        )}
        {files && (
          <button type="button" className="secondary" disabled={disabled} onClick={() => fileInput.current?.click()}>
            Choose file{multiple ? 's' : ''}…
          </button>
        )}
      </div>
      <input
        ref={fileInput}
        type="file"
        hidden
        accept={accept}
        multiple={multiple}
        data-testid={`${testId}-files`}
        onChange={(e) => {
          give(filesFromInput(e.target.files));
          e.target.value = '';
        }}
      />
      {folder && (
        <input
          ref={dirInput}
          type="file"
          hidden
          multiple
          data-testid={`${testId}-folder`}
          {...{ webkitdirectory: '' }}
          onChange={(e) => {
            give(filesFromInput(e.target.files));
            e.target.value = '';
          }}
        />
      )}
    </div>
  );
}
