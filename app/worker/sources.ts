// FileSources the worker builds: the shipped demo models (fetched from this site), dropped/picked files with their
// folder paths, and a wrapper that reports how far reading has got (a multi-GB folder takes a while to read).
import type { FileSource } from '../../src/engine/io/files';

/** The files of a shipped demo model folder under public/models/ (what loadModelFiles reads). */
const DEMO_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];

export const DEMO_FOLDERS = { demo: 'models/weblora-demo', 'demo-tiny': 'models/weblora-demo-tiny' } as const;

/** Files fetched from this site on demand (relative to the page's base URL, so the app works under a sub-path). */
export function siteSource(folder: string, names: string[] = DEMO_FILES): FileSource {
  const base = new URL(`${import.meta.env.BASE_URL}${folder}/`, self.location.origin);
  const get = async (name: string): Promise<Response> => {
    if (!names.includes(name)) throw new Error(`${name}: not part of ${folder}`);
    let res: Response;
    try {
      res = await fetch(new URL(name, base));
    } catch (e) {
      throw new Error(`${folder}/${name}: could not be fetched (${(e as Error).message})`);
    }
    if (!res.ok) throw new Error(`${folder}/${name}: HTTP ${res.status} from this site`);
    return res;
  };
  return {
    list: async () => [...names].sort(),
    read: async (name) => new Uint8Array(await (await get(name)).arrayBuffer()),
    readText: async (name) => (await get(name)).text(),
  };
}

/**
 * Dropped or picked files, each with its path inside what was dropped. When every path starts with the same
 * folder name (a dropped folder, or a directory pick), that first segment is removed: "SmolLM2/config.json" →
 * "config.json".
 */
export function pathFilesSource(entries: { path: string; file: File }[]): FileSource {
  const paths = entries.map((e) => e.path.replace(/^\/+/, ''));
  const first = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  const strip = first.size === 1 && !first.has('');
  const byName = new Map<string, File>();
  entries.forEach((e, i) => byName.set(strip ? paths[i].slice(paths[i].indexOf('/') + 1) : paths[i], e.file));
  const get = (name: string): File => {
    const f = byName.get(name);
    if (!f) throw new Error(`${name}: not among the dropped files`);
    return f;
  };
  return {
    list: async () => [...byName.keys()].sort(),
    read: async (name) => new Uint8Array(await get(name).arrayBuffer()),
    readText: async (name) => get(name).text(),
  };
}

/** Calls onRead(bytesSoFar) after each file is read: loading a dropped multi-GB folder shows progress too. */
export function countingSource(src: FileSource, onRead: (bytes: number, file: string) => void): FileSource {
  let bytes = 0;
  return {
    list: () => src.list(),
    async read(name) {
      const out = await src.read(name);
      bytes += out.byteLength;
      onRead(bytes, name);
      return out;
    },
    async readText(name) {
      const out = await src.readText(name);
      bytes += out.length;
      onRead(bytes, name);
      return out;
    },
  };
}
