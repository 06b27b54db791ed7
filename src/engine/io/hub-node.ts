// `--model hf:owner/name` (or a bare owner/name that is not a local folder) in Node: the repo is downloaded once into
// a cache folder that the CLI then reads like any model folder. Layout, one folder per commit so a newer push never
// mixes with older files:
//   $WEBLORA_CACHE/hub/owner--name/<commit sha>/config.json, model.safetensors, ...
//   $WEBLORA_CACHE/hub/owner--name/refs/<revision>.json   (the Hub's listing: lets a later run work offline)
// $WEBLORA_CACHE defaults to $XDG_CACHE_HOME/weblora, else ~/.cache/weblora.
import { existsSync, openAsBlob } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { downloadHubModel, hubApiUrl, hubFileUrl, HubError, HUB_ENDPOINT, isHubRepoId, type HubCache, type HubProgress } from './hub.ts';

export interface HubRef {
  repo: string;
  revision: string;
}

/**
 * The Hub repo a --model value names, or null when it names a local folder. `hf:` always means the Hub; a bare
 * owner/name does when no such local path exists. Either may end in @revision (a branch, tag or commit).
 */
export function parseHubRef(value: string, isLocal: (p: string) => boolean = existsSync): HubRef | null {
  const explicit = value.startsWith('hf:');
  const ref = explicit ? value.slice(3) : value;
  if (!explicit && (isLocal(value) || !/^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(value))) return null;
  const at = ref.indexOf('@');
  const repo = at >= 0 ? ref.slice(0, at) : ref;
  const revision = at >= 0 ? ref.slice(at + 1) : 'main';
  if (!isHubRepoId(repo) || !revision) throw new HubError(`${value}: not a Hugging Face repo id (hf:owner/name or hf:owner/name@revision)`, 'bad-name');
  return { repo, revision };
}

export function hubCacheRoot(env: Record<string, string | undefined> = process.env): string {
  const base = env.WEBLORA_CACHE || path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'weblora');
  return path.join(base, 'hub');
}

/**
 * A HubCache over a folder, for one repo at one endpoint: file keys map to <dir>/<commit>/<file>, the listing to
 * <dir>/refs/<revision>.json. A file appears under its name only once all its bytes are written (.part, rename).
 */
export function diskHubCache(dir: string, endpoint: string, repo: string): HubCache {
  const filePrefix = hubFileUrl(endpoint, repo, '', '').slice(0, -1); // …/resolve/
  const apiPrefix = hubApiUrl(endpoint, repo, ''); // …/revision/
  const where = (key: string): string => {
    if (key.startsWith(apiPrefix)) return path.join(dir, 'refs', `${key.slice(apiPrefix.length)}.json`);
    if (key.startsWith(filePrefix)) {
      const [commit, ...rest] = key.slice(filePrefix.length).split('/');
      const file = rest.map(decodeURIComponent);
      if (!commit || !file.length || [commit, ...file].some((s) => !s || s === '.' || s === '..' || s.includes('\\'))) throw new Error(`bad cache key ${key}`);
      return path.join(dir, commit, ...file);
    }
    throw new Error(`${key}: not a file of ${repo} at ${endpoint}`);
  };
  return {
    async match(key) {
      const p = where(key);
      if (!existsSync(p)) return undefined;
      return new Response((await openAsBlob(p)) as unknown as Blob); // lazy: nothing is read until the body is
    },
    async put(key, response) {
      const p = where(key);
      await mkdir(path.dirname(p), { recursive: true });
      const part = `${p}.${process.pid}-${Math.random().toString(36).slice(2, 8)}.part`;
      const fh = await open(part, 'w');
      try {
        if (response.body) {
          const reader = response.body.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            for (let at = 0; at < value.byteLength; ) at += (await fh.write(value, at)).bytesWritten;
          }
        }
        await fh.close();
        await rename(part, p);
      } catch (e) {
        await fh.close().catch(() => undefined);
        await rm(part, { force: true });
        throw e;
      }
    },
  };
}

export interface ResolveHubOptions {
  /** Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: hubCacheRoot(). */
  cacheDir?: string;
  /** Default: $HF_TOKEN (or the older $HUGGING_FACE_HUB_TOKEN). */
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Progress lines (the CLI's stderr). */
  log?: (line: string) => void;
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * The local folder for a --model value that names a Hub repo (downloaded now if it is not cached), or null when the
 * value is not a Hub reference (a local folder, a shipped name).
 */
export async function resolveHubModel(value: string, opts: ResolveHubOptions = {}): Promise<{ dir: string; repo: string; commit: string } | null> {
  const ref = parseHubRef(value);
  if (!ref) return null;
  const endpoint = (opts.endpoint || process.env.HF_ENDPOINT || HUB_ENDPOINT).replace(/\/+$/, '');
  const token = opts.token ?? (process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN || undefined);
  const repoDir = path.join(opts.cacheDir ?? hubCacheRoot(), ref.repo.replace('/', '--'));
  const log = opts.log ?? (() => undefined);
  let lastLine = 0;
  const fetched = new Map<string, number>(); // bytes downloaded per file (cache hits excluded)
  const onProgress = (p: HubProgress) => {
    if (p.cached) return;
    fetched.set(p.file, p.loaded);
    const t = Date.now();
    if (!lastLine) log(`downloading ${ref.repo} from ${endpoint}: ${p.filesTotal} files, ${mb(p.bytesTotal)}`);
    else if (t - lastLine >= 1000) {
      const pct = p.bytesTotal ? ` ${((100 * p.bytesDone) / p.bytesTotal).toFixed(0)}%` : '';
      log(`  ${mb(p.bytesDone)} / ${mb(p.bytesTotal)}${pct} at ${mb(p.bytesPerSec)}/s (${p.file}, file ${Math.min(p.filesDone + 1, p.filesTotal)} of ${p.filesTotal})`);
    } else return;
    lastLine = t;
  };
  const src = await downloadHubModel(ref.repo, {
    endpoint, revision: ref.revision, token, fetch: opts.fetch, signal: opts.signal, onProgress,
    cache: diskHubCache(repoDir, endpoint, ref.repo),
  }).catch((e) => {
    // a bare owner/name may be a mistyped local path: say both
    if (e instanceof HubError && !value.startsWith('hf:') && (e.code === 'not-found' || e.code === 'unauthorized')) {
      throw new HubError(`${value} is not a local folder, and on the Hub: ${e.message}`, e.code);
    }
    throw e;
  });
  const { commit, files, totalBytes } = src.listing;
  const dir = path.join(repoDir, encodeURIComponent(commit));
  const downloaded = [...fetched.values()].reduce((a, b) => a + b, 0);
  log(`${ref.repo}@${ref.revision} (${commit.slice(0, 12)}): ${files.length} files, ${mb(totalBytes)}, ${downloaded ? `downloaded ${mb(downloaded)}` : 'all cached'} in ${dir}`);
  return { dir, repo: ref.repo, commit };
}
