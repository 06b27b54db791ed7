// Files from the person: dropped (files or whole folders), picked with a file input, or a folder from the directory
// picker. Each comes with its path inside what was given, so a model folder keeps its layout.

export interface PathFile {
  path: string;
  file: File;
}

/** Every file of a drop, folders walked recursively (Chrome, Edge, Safari and Firefox all have webkitGetAsEntry). */
export async function filesFromDrop(dt: DataTransfer): Promise<PathFile[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (!entries.length) return [...dt.files].map((file) => ({ path: file.name, file }));
  const out: PathFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory && !entry.name.startsWith('.')) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns the folder in batches (100 in Chrome) until it returns none
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

export function filesFromInput(list: FileList | null): PathFile[] {
  return [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

type DirHandle = { name: string; kind: 'directory'; values(): AsyncIterable<{ kind: 'file' | 'directory'; name: string; getFile?: () => Promise<File> }> };

/** The File System Access directory picker (Chrome, Edge); null where the browser has none or the person cancels. */
export async function pickDirectory(): Promise<PathFile[] | null> {
  const picker = (window as unknown as { showDirectoryPicker?: (o?: object) => Promise<DirHandle> }).showDirectoryPicker;
  if (!picker) return null;
  let dir: DirHandle;
  try {
    dir = await picker({ mode: 'read' });
  } catch {
    return []; // cancelled
  }
  const out: PathFile[] = [];
  const walk = async (d: DirHandle, prefix: string): Promise<void> => {
    for await (const h of d.values()) {
      if (h.kind === 'file') out.push({ path: `${prefix}${h.name}`, file: await h.getFile!() });
      else if (!h.name.startsWith('.')) await walk(h as unknown as DirHandle, `${prefix}${h.name}/`);
    }
  };
  await walk(dir, `${dir.name}/`);
  return out;
}

export function hasDirectoryPicker(): boolean {
  return typeof (window as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';
}
