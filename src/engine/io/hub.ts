// Models straight from the Hugging Face Hub: list a repo through the Hub API, pick the files the engine reads
// (config, tokenizer, safetensors weights), download them with streaming progress into a cache so the next load
// reads them locally. The same code runs in the browser worker (fetch + Cache Storage) and in Node (fetch + a
// folder: hub-node.ts).
//
// The Hub's URL layout, as huggingface_hub and huggingface.js use it:
//   GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true  → {sha, gated, siblings: [{rfilename, size, lfs?}]}
//   GET {endpoint}/{repo}/resolve/{commit}/{file}                    → the bytes (weights, LFS: 302 to a CDN first)
// Files are fetched at the listing's commit sha, not at the branch name: a push during a download cannot mix files
// of two commits, and cache entries keyed by sha never go stale.
import type { FileSource } from './files.ts';
import { memorySource } from './files.ts';

export const HUB_ENDPOINT = 'https://huggingface.co';

/** The part of the Cache Storage API used (browser: `await caches.open('weblora-hub')`). Keys are URLs. */
export interface HubCache {
  match(key: string): Promise<Response | undefined>;
  /** Stores the response once its body has been read to the end; rejects, storing nothing, if the body errors. */
  put(key: string, response: Response): Promise<void>;
}

export interface HubOptions {
  endpoint?: string;
  revision?: string;
  fetch?: typeof fetch;
  /** A Hugging Face access token (private and gated repos). */
  token?: string;
  cache?: HubCache;
  signal?: AbortSignal;
}

export interface HubFile {
  name: string;
  /** Bytes, from the listing (`?blobs=true`); null when the server does not say. */
  size: number | null;
}

export interface HubListing {
  repo: string;
  revision: string;
  /** The commit the files are fetched at: the listing's sha (the revision itself if the server gives none). */
  commit: string;
  /** The repo asks users to accept conditions (and so needs a token). */
  gated: boolean;
  /** The files a model needs, config.json first, weights last. */
  files: HubFile[];
  totalBytes: number;
  /** Files already fetched while listing (the shard index), when there is no cache to keep them. */
  fetched: Record<string, Uint8Array>;
}

export interface HubProgress {
  file: string;
  /** Bytes of this file so far, of total (null: size unknown). */
  loaded: number;
  total: number | null;
  /** Network bytes per second over this download so far (cache hits do not count). */
  bytesPerSec: number;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** This file came from the cache. */
  cached: boolean;
}

export interface HubDownloadOptions extends HubOptions {
  onProgress?(p: HubProgress): void;
}

export type HubErrorCode = 'bad-name' | 'not-found' | 'unauthorized' | 'gated' | 'not-a-model' | 'no-weights' | 'network' | 'http' | 'size';

export class HubError extends Error {
  constructor(message: string, readonly code: HubErrorCode) {
    super(message);
    this.name = 'HubError';
  }
}

/** A FileSource over a downloaded repo; `listing` says what was fetched, at which commit. */
export type HubSource = FileSource & { listing: HubListing };

const trimSlash = (s: string) => s.replace(/\/+$/, '');
export const hubApiUrl = (endpoint: string, repo: string, revision: string) =>
  `${trimSlash(endpoint)}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
export const hubFileUrl = (endpoint: string, repo: string, commit: string, file: string) =>
  `${trimSlash(endpoint)}/${repo}/resolve/${encodeURIComponent(commit)}/${file.split('/').map(encodeURIComponent).join('/')}`;

/** owner/name (or a legacy owner-less name like gpt2), as the Hub allows them: no '--' or '..'. */
export function isHubRepoId(repo: string): boolean {
  return /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/.test(repo) && !repo.includes('--') && !repo.includes('..') && repo.length <= 96;
}

// The files the engine reads besides the weights (model-files.ts, tokenizer.ts); everything else in a repo
// (README, *.bin, onnx/, gguf, flax, training args) is never downloaded.
const REQUIRED = ['config.json', 'tokenizer.json'];
const OPTIONAL = ['generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'];
const INDEX = 'model.safetensors.index.json';

/**
 * The files of `siblings` a model needs; `index` is set when the weights are sharded (the shards are named in it,
 * so the caller reads it and calls shardFiles).
 */
export function chooseModelFiles(siblings: HubFile[], repo: string): { files: HubFile[]; index?: HubFile } {
  const byName = new Map(siblings.filter((s) => !s.name.includes('/')).map((s) => [s.name, s]));
  const names = [...byName.keys()];
  const weights = byName.get(INDEX) ?? byName.get('model.safetensors');
  if (!weights) {
    if (byName.has('adapter_config.json')) {
      throw new HubError(`${repo} is a PEFT adapter, not a model: load it as the adapter (with its base model as the model)`, 'not-a-model');
    }
    const other = [
      ['PyTorch .bin', /\.(bin|pt|pth)$/], ['GGUF', /\.gguf$/], ['ONNX', /\.onnx$/], ['TensorFlow/Flax', /\.(h5|msgpack)$/],
      ['other safetensors', /\.safetensors$/],
    ].filter(([, re]) => siblings.some((s) => (re as RegExp).test(s.name))).map(([what]) => what);
    throw new HubError(
      `${repo} has no model.safetensors or ${INDEX}${other.length ? ` (it has ${other.join(', ')} weights)` : ''}: ` +
        'WebLoRA reads transformers safetensors checkpoints; pick a repo that has them', 'no-weights');
  }
  for (const name of REQUIRED) {
    if (!byName.has(name)) {
      throw new HubError(`${repo} has no ${name}${name === 'tokenizer.json' ? ' (only fast-tokenizer repos are supported)' : ''}`, 'not-a-model');
    }
  }
  const files = [...REQUIRED, ...OPTIONAL].filter((n) => byName.has(n)).map((n) => byName.get(n)!);
  if (weights.name === INDEX) return { files: [...files, weights], index: weights };
  return { files: [...files, weights] };
}

/** The shard files named by a model.safetensors.index.json, checked against the repo's files. */
export function shardFiles(indexBytes: Uint8Array, siblings: HubFile[], repo: string): HubFile[] {
  let map: unknown;
  try {
    map = JSON.parse(new TextDecoder().decode(indexBytes)).weight_map;
  } catch (e) {
    throw new HubError(`${repo}: ${INDEX} is not valid JSON (${(e as Error).message})`, 'not-a-model');
  }
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new HubError(`${repo}: ${INDEX} has no weight_map`, 'not-a-model');
  const byName = new Map(siblings.map((s) => [s.name, s]));
  const shards = [...new Set(Object.values(map as Record<string, unknown>))].sort();
  return shards.map((s) => {
    const f = typeof s === 'string' && !s.includes('/') ? byName.get(s) : undefined;
    if (!f) throw new HubError(`${repo}: ${INDEX} names the shard ${JSON.stringify(s)}, which the repo does not have`, 'not-a-model');
    return f;
  });
}

/** Everything about one repo at one commit that fetching needs. */
interface Ctx {
  repo: string;
  endpoint: string;
  revision: string;
  commit: string;
  gated: boolean;
  o: HubOptions;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('the download was cancelled');
}

const gatedError = ({ repo, endpoint }: { repo: string; endpoint: string }, more: string) =>
  new HubError(
    `${repo} is a gated model: accept its conditions at ${endpoint}/${repo} while logged in, then pass a token of that ` +
      `account (HF_TOKEN; create one at ${endpoint}/settings/tokens)${more}`, 'gated');

/** A GET with the token; any answer but 2xx becomes a HubError that says what to do. */
async function hubGet(url: string, ctx: Omit<Ctx, 'commit'>, file?: string): Promise<Response> {
  const { o, repo, endpoint } = ctx;
  let res: Response;
  try {
    res = await (o.fetch ?? globalThis.fetch)(url, { headers: o.token ? { authorization: `Bearer ${o.token}` } : {}, signal: o.signal, redirect: 'follow' });
  } catch (e) {
    if (o.signal?.aborted) throw abortReason(o.signal);
    throw new HubError(`cannot reach ${endpoint} for ${repo}${file ? ` (${file})` : ''}: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`, 'network');
  }
  if (res.ok) return res;
  await res.body?.cancel().catch(() => undefined);
  const code = res.headers.get('x-error-code');
  const where = file ? `${repo}: ${file}` : repo;
  const tokens = `${endpoint}/settings/tokens`;
  if (code === 'GatedRepo' || (ctx.gated && (res.status === 401 || res.status === 403))) {
    throw gatedError(ctx, o.token ? `; the token given has no access yet (HTTP ${res.status})` : '');
  }
  if (res.status === 401 || res.status === 403) {
    throw new HubError(
      o.token
        ? `${where}: the token was refused (HTTP ${res.status}): it is invalid or has no access to ${repo}`
        : `${where}: not found, or private (HTTP ${res.status}): check the name; a private repo needs a token (HF_TOKEN; create one at ${tokens})`,
      'unauthorized');
  }
  if (res.status === 404) {
    if (code === 'RevisionNotFound') throw new HubError(`${repo}: no revision ${JSON.stringify(ctx.revision)} (HTTP 404)`, 'not-found');
    throw new HubError(file ? `${where}: not found on ${endpoint} (HTTP 404)` : `${repo}: no such model on ${endpoint} (HTTP 404): check the name`, 'not-found');
  }
  throw new HubError(`${where}: HTTP ${res.status} ${res.statusText} from ${url}`, 'http');
}

/** The body, counted chunk by chunk (onBytes), failing if it is not `expect` bytes long (a cut-short download). */
function counted(res: Response, expect: number | null, where: string, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  let n = 0;
  const short = () => new HubError(`${where}: received ${n} bytes but the Hub lists ${expect}: the download was cut short or changed, try again`, 'size');
  const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }); // an empty file
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        n += chunk.byteLength;
        if (expect !== null && n > expect) throw short();
        onBytes(chunk.byteLength);
        out.enqueue(chunk);
      },
      flush() {
        if (expect !== null && n !== expect) throw short();
      },
    }),
  );
}

/** Reads a stream to the end; one preallocated array when the size is known (multi-GB shards: no second copy). */
async function collect(stream: ReadableStream<Uint8Array>, size: number | null): Promise<Uint8Array> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  const out = size !== null ? new Uint8Array(size) : null;
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (out) out.set(value, at);
    else parts.push(value);
    at += value.byteLength;
  }
  if (out) return out;
  const joined = new Uint8Array(at);
  let k = 0;
  for (const p of parts) (joined.set(p, k), (k += p.byteLength));
  return joined;
}

/**
 * Fetches `file` into the cache (returns null) or, without a cache, into memory (returns the bytes). The cache
 * stores an entry only once the whole body has arrived, so an interrupted download leaves nothing behind.
 */
async function fetchFile(ctx: Ctx, file: HubFile, onBytes: (n: number) => void): Promise<Uint8Array | null> {
  const url = hubFileUrl(ctx.endpoint, ctx.repo, ctx.commit, file.name);
  const res = await hubGet(url, ctx, file.name);
  const body = counted(res, file.size, `${ctx.repo}: ${file.name}`, onBytes);
  if (!ctx.o.cache) return collect(body, file.size);
  try {
    await ctx.o.cache.put(url, new Response(body, { headers: { 'content-type': 'application/octet-stream' } }));
  } catch (e) {
    // a cancelled download surfaces from Cache.put as a generic network error: say it was cancelled
    if (ctx.o.signal?.aborted) throw abortReason(ctx.o.signal);
    throw e;
  }
  return null;
}

async function cachedBytes(ctx: Ctx, name: string): Promise<Uint8Array | null> {
  const hit = await ctx.o.cache?.match(hubFileUrl(ctx.endpoint, ctx.repo, ctx.commit, name));
  return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
}

/** The repo's API record; with a cache it is kept, and used when the Hub cannot be reached (offline). */
async function repoInfo(ctx: Omit<Ctx, 'commit'>): Promise<Record<string, unknown>> {
  const url = hubApiUrl(ctx.endpoint, ctx.repo, ctx.revision);
  let text: string;
  try {
    text = await (await hubGet(`${url}?blobs=true`, ctx)).text();
  } catch (e) {
    const kept = e instanceof HubError && e.code === 'network' ? await ctx.o.cache?.match(url) : undefined;
    if (!kept) throw e;
    text = await kept.text();
  }
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new HubError(`${ctx.repo}: the Hub's answer at ${url} is not JSON (is ${ctx.endpoint} a Hugging Face Hub?)`, 'http');
  }
  if (!info || typeof info !== 'object' || !Array.isArray((info as { siblings?: unknown }).siblings)) {
    throw new HubError(`${ctx.repo}: the Hub's answer at ${url} lists no files (siblings)`, 'http');
  }
  await ctx.o.cache?.put(url, new Response(text, { headers: { 'content-type': 'application/json' } }));
  return info as Record<string, unknown>;
}

/** The files of `repo` a model needs, with their sizes, at the commit `revision` points to. */
export async function listHubFiles(repo: string, o: HubOptions = {}): Promise<HubListing> {
  if (!isHubRepoId(repo)) throw new HubError(`${JSON.stringify(repo)} is not a Hugging Face repo id (owner/name)`, 'bad-name');
  const base = { repo, endpoint: trimSlash(o.endpoint ?? HUB_ENDPOINT), revision: o.revision ?? 'main', gated: false, o };
  const info = await repoInfo(base);
  const siblings: HubFile[] = (info.siblings as { rfilename?: unknown; size?: unknown; lfs?: { size?: unknown } }[])
    .filter((s) => typeof s?.rfilename === 'string')
    .map((s) => {
      const size = typeof s.size === 'number' ? s.size : typeof s.lfs?.size === 'number' ? s.lfs.size : null;
      return { name: s.rfilename as string, size };
    });
  const gated = !!info.gated; // false, or "auto" / "manual"
  const ctx: Ctx = { ...base, gated, commit: typeof info.sha === 'string' && info.sha ? info.sha : base.revision };
  if (gated && !o.token) throw gatedError(ctx, '');
  const plan = chooseModelFiles(siblings, repo);
  const fetched: Record<string, Uint8Array> = {};
  let files = plan.files;
  if (plan.index) {
    let bytes = await cachedBytes(ctx, plan.index.name);
    if (!bytes) bytes = (await fetchFile(ctx, plan.index, () => undefined)) ?? (await cachedBytes(ctx, plan.index.name));
    if (!bytes) throw new HubError(`${repo}: ${INDEX} was stored in the cache but cannot be read back`, 'http');
    if (!o.cache) fetched[plan.index.name] = bytes;
    files = [...files, ...shardFiles(bytes, siblings, repo)];
  }
  const totalBytes = files.reduce((s, f) => s + (f.size ?? 0), 0);
  return { repo, revision: ctx.revision, commit: ctx.commit, gated, files, totalBytes, fetched };
}

/**
 * Downloads what listHubFiles chose (skipping files already in the cache) and returns them as a FileSource:
 * read from the cache when there is one, from memory otherwise. Progress is reported at most every 100 ms per file,
 * and once when each file is done.
 */
export async function downloadHubModel(repo: string, o: HubDownloadOptions = {}): Promise<HubSource> {
  const listing = await listHubFiles(repo, o);
  const ctx: Ctx = { repo, endpoint: trimSlash(o.endpoint ?? HUB_ENDPOINT), revision: listing.revision, commit: listing.commit, gated: listing.gated, o };
  const memory: Record<string, Uint8Array> = { ...listing.fetched };
  const filesTotal = listing.files.length;
  let filesDone = 0, bytesDone = 0, netBytes = 0, netStart = 0;
  const report = (file: HubFile, loaded: number, cached: boolean) =>
    o.onProgress?.({
      file: file.name, loaded, total: file.size, filesDone, filesTotal, bytesDone, bytesTotal: listing.totalBytes, cached,
      bytesPerSec: netBytes && netStart ? netBytes / Math.max(1e-3, (now() - netStart) / 1000) : 0,
    });
  for (const file of listing.files) {
    // the shard index was read while listing; anything else may be in the cache from an earlier download
    const hit = memory[file.name] ? null : await o.cache?.match(hubFileUrl(ctx.endpoint, repo, ctx.commit, file.name));
    if (memory[file.name] || hit) {
      await hit?.body?.cancel().catch(() => undefined);
      bytesDone += file.size ?? 0;
      filesDone++;
      report(file, file.size ?? 0, !!hit);
      continue;
    }
    if (o.signal?.aborted) throw abortReason(o.signal);
    let loaded = 0, last = 0;
    netStart ||= now();
    const bytes = await fetchFile(ctx, file, (n) => {
      loaded += n;
      bytesDone += n;
      netBytes += n;
      if (now() - last >= 100) {
        last = now();
        report(file, loaded, false);
      }
    });
    if (bytes) memory[file.name] = bytes;
    filesDone++;
    report(file, loaded, false);
  }
  const source = o.cache ? cacheSource(o.cache, listing.files.map((f) => [f.name, hubFileUrl(ctx.endpoint, repo, ctx.commit, f.name)])) : memorySource(memory);
  return Object.assign(source, { listing });
}

const now = () => (globalThis.performance ?? Date).now();

/** Files read back from the cache on demand (the browser keeps multi-GB weights on disk, not twice in memory). */
function cacheSource(cache: HubCache, entries: [string, string][]): FileSource {
  const keys = new Map(entries);
  const read = async (name: string) => {
    const key = keys.get(name);
    if (!key) throw new Error(`${name}: no such file`);
    const res = await cache.match(key);
    if (!res) throw new Error(`${name}: no longer in the download cache (cleared?): load the model again`);
    return new Uint8Array(await res.arrayBuffer());
  };
  return {
    list: async () => [...keys.keys()].sort(),
    read,
    readText: async (name) => new TextDecoder().decode(await read(name)),
  };
}
