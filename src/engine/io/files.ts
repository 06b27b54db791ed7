// Where model and dataset files come from: a folder on disk (Node) or files the user picked / dropped (browser).
// Names are relative paths with '/' separators, e.g. "config.json", "model-00001-of-00002.safetensors".

export interface FileSource {
  /** Relative paths of every file, sorted. */
  list(): Promise<string[]>;
  read(name: string): Promise<Uint8Array>;
  readText(name: string): Promise<string>;
}

/** True when the source has the file. */
export async function hasFile(src: FileSource, name: string): Promise<boolean> {
  return (await src.list()).includes(name);
}

/**
 * A folder on disk, listed recursively. node:fs is imported lazily so this module also bundles for the browser
 * (where nodeDirSource is simply never called).
 */
export function nodeDirSource(dir: string, opts: { chunkBytes?: number } = {}): FileSource {
  // fs.readFile refuses files over 2 GiB (a 1B-parameter bf16 model.safetensors is 2.5 GB): read in chunks
  // into one preallocated array instead.
  const chunkBytes = opts.chunkBytes ?? 1 << 29;
  const fs = () => import('node:fs/promises');
  let listing: Promise<string[]> | null = null;
  const resolve = (name: string) => {
    const parts = name.split(/[\\/]/);
    if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || parts.some((s) => s === '..')) {
      throw new Error(`${name}: outside the folder ${dir}`);
    }
    return `${dir}/${parts.filter((s) => s && s !== '.').join('/')}`;
  };
  return {
    list() {
      listing ??= (async () => {
        const { readdir } = await fs();
        const out: string[] = [];
        const walk = async (rel: string): Promise<void> => {
          const entries = await readdir(rel ? `${dir}/${rel}` : dir, { withFileTypes: true });
          for (const e of entries) {
            const name = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) {
              if (!e.name.startsWith('.')) await walk(name);
            } else if (e.isFile() || e.isSymbolicLink()) {
              out.push(name);
            }
          }
        };
        try {
          await walk('');
        } catch (e) {
          throw new Error(`${dir}: cannot list the folder (${(e as Error).message})`);
        }
        return out.sort();
      })();
      return listing;
    },
    async read(name) {
      const { open } = await fs();
      try {
        const fh = await open(resolve(name), 'r');
        try {
          const size = (await fh.stat()).size;
          const out = new Uint8Array(size);
          for (let at = 0; at < size; ) {
            const { bytesRead } = await fh.read(out, at, Math.min(chunkBytes, size - at), at);
            if (bytesRead === 0) throw new Error(`file shrank while reading (${at} of ${size} bytes)`);
            at += bytesRead;
          }
          return out;
        } finally {
          await fh.close();
        }
      } catch (e) {
        throw new Error(`${dir}/${name}: cannot read (${(e as Error).message})`);
      }
    },
    async readText(name) {
      return new TextDecoder().decode(await this.read(name));
    },
  };
}

/**
 * Files picked in the browser (<input type=file webkitdirectory> or drag and drop). With a folder pick, every
 * webkitRelativePath starts with the folder's name: that common first segment is removed, so "Qwen2/config.json"
 * becomes "config.json".
 */
export function filesSource(files: File[] | FileList): FileSource {
  const list = Array.from(files);
  const rawNames = list.map((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name);
  const firstSegments = new Set(rawNames.map((n) => (n.includes('/') ? n.slice(0, n.indexOf('/')) : '')));
  const stripRoot = firstSegments.size === 1 && !firstSegments.has('');
  const byName = new Map<string, File>();
  list.forEach((f, i) => {
    const name = stripRoot ? rawNames[i].slice(rawNames[i].indexOf('/') + 1) : rawNames[i];
    byName.set(name, f);
  });
  const get = (name: string): File => {
    const f = byName.get(name);
    if (!f) throw new Error(`${name}: not among the selected files`);
    return f;
  };
  return {
    async list() {
      return [...byName.keys()].sort();
    },
    async read(name) {
      return new Uint8Array(await get(name).arrayBuffer());
    },
    async readText(name) {
      return get(name).text();
    },
  };
}

/** In-memory source (tests, and files fetched from the Hub). */
export function memorySource(files: Record<string, Uint8Array | string>): FileSource {
  const enc = new TextEncoder();
  const get = (name: string): Uint8Array | string => {
    const f = files[name];
    if (f === undefined) throw new Error(`${name}: no such file`);
    return f;
  };
  return {
    async list() {
      return Object.keys(files).sort();
    },
    async read(name) {
      const f = get(name);
      return typeof f === 'string' ? enc.encode(f) : f;
    },
    async readText(name) {
      const f = get(name);
      return typeof f === 'string' ? f : new TextDecoder().decode(f);
    },
  };
}
