// The Hub loader against a local imitation of the Hub (node:http on 127.0.0.1, no internet): the API listing with
// ?blobs=true sizes, /resolve/ with 302 redirects of weights to a second "CDN" server (another origin, as the real
// Hub's LFS files), 401/404 with X-Error-Code as the Hub sends them, a gated and a private repo. The repo content is
// test/fixtures/llama/model (also split into two shards), plus files a model does not need, which must never be
// requested. Then the Node cache folder, and `weblora eval --model hf:test/tiny` end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadHubModel, listHubFiles, HubError, type HubCache, type HubProgress } from '../../src/engine/io/hub';
import { parseHubRef, resolveHubModel } from '../../src/engine/io/hub-node';
import { loadModelFiles } from '../../src/engine/io/model-files';
import { parseSafetensors, serializeSafetensors } from '../../src/engine/io/safetensors';

const fixture = path.resolve(__dirname, '../fixtures/llama/model');
const fixtureFiles: Record<string, Uint8Array> = Object.fromEntries(readdirSync(fixture).map((f) => [f, new Uint8Array(readFileSync(path.join(fixture, f)))]));
const enc = (s: string) => new TextEncoder().encode(s);
const GOOD_TOKEN = 'hf_good';

/** The fixture's tensors in two shard files plus model.safetensors.index.json, as transformers writes them. */
function sharded(): Record<string, Uint8Array> {
  const tensors = [...parseSafetensors(fixtureFiles['model.safetensors'], 'model.safetensors').tensors];
  const half = Math.ceil(tensors.length / 2);
  const shards = [tensors.slice(0, half), tensors.slice(half)];
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap: Record<string, string> = {};
  const out: Record<string, Uint8Array> = {};
  shards.forEach((ts, i) => {
    out[names[i]] = serializeSafetensors(ts.map(([name, t]) => ({ name, ...t })), { format: 'pt' });
    for (const [name] of ts) weightMap[name] = names[i];
  });
  const { 'model.safetensors': _, ...rest } = fixtureFiles;
  return { ...rest, ...out, 'model.safetensors.index.json': enc(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap })) };
}

interface Repo {
  files: Record<string, Uint8Array>;
  gated?: 'manual';
  private?: boolean;
  /** Sizes the listing claims instead of the real ones. */
  lie?: Record<string, number>;
  /** The CDN sends weights in 10 pieces, 40 ms apart. */
  slow?: boolean;
}
const extras = { 'README.md': enc('# tiny\n'), '.gitattributes': enc('*.safetensors filter=lfs\n'), 'pytorch_model.bin': enc('not a checkpoint'), 'onnx/model.onnx': enc('onnx') };
const REPOS: Record<string, Repo> = {
  'test/tiny': { files: { ...fixtureFiles, ...extras }, slow: true },
  'test/sharded': { files: sharded() },
  'test/gated': { files: fixtureFiles, gated: 'manual' },
  'test/private': { files: fixtureFiles, private: true },
  'test/binonly': { files: { 'config.json': fixtureFiles['config.json'], 'tokenizer.json': fixtureFiles['tokenizer.json'], 'pytorch_model.bin': enc('x') } },
  'test/adapter': { files: { 'adapter_config.json': enc('{}'), 'adapter_model.safetensors': enc('x') } },
  'test/truncated': { files: fixtureFiles, lie: { 'model.safetensors': fixtureFiles['model.safetensors'].byteLength + 100 } },
  'test/slow': { files: fixtureFiles, slow: true },
};
const shaOf = (repo: string) => createHash('sha1').update(repo).digest('hex');

let hub: http.Server, cdn: http.Server, hubUrl = '', cdnUrl = '';
const requests: string[] = []; // "hub /path" / "cdn /path", in order

function send(res: http.ServerResponse, status: number, body: Uint8Array | string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength), ...headers });
  res.end(body);
}

function hubHandler(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url!, hubUrl);
  requests.push(`hub ${url.pathname}`);
  const authed = req.headers.authorization === `Bearer ${GOOD_TOKEN}`;
  const anyToken = !!req.headers.authorization;
  const notFound = () => send(res, anyToken ? 404 : 401, 'Repository not found', { 'x-error-code': 'RepoNotFound' });
  const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
  if (api) {
    const [repoId, rev] = [api[1], decodeURIComponent(api[2])];
    const repo = REPOS[repoId];
    if (!repo || (repo.private && !authed)) return notFound();
    if (rev !== 'main' && rev !== shaOf(repoId)) return send(res, 404, 'Invalid rev id', { 'x-error-code': 'RevisionNotFound' });
    const siblings = Object.entries(repo.files).map(([name, b]) => {
      const size = repo.lie?.[name] ?? b.byteLength;
      return { rfilename: name, size, blobId: 'b', ...(name.endsWith('.safetensors') ? { lfs: { size, sha256: 'x', pointerSize: 134 } } : {}) };
    });
    const blobs = url.searchParams.get('blobs') === 'true';
    const body = JSON.stringify({ id: repoId, sha: shaOf(repoId), private: !!repo.private, gated: repo.gated ?? false, siblings: blobs ? siblings : siblings.map((s) => ({ rfilename: s.rfilename })) });
    return send(res, 200, body, { 'content-type': 'application/json' });
  }
  const file = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (file) {
    const [repoId, rev, name] = [file[1], decodeURIComponent(file[2]), decodeURIComponent(file[3])];
    const repo = REPOS[repoId];
    if (!repo || (repo.private && !authed)) return notFound();
    if (repo.gated && !authed) return send(res, 401, 'Access to this model is restricted', { 'x-error-code': 'GatedRepo' });
    if (rev !== 'main' && rev !== shaOf(repoId)) return send(res, 404, 'Invalid rev id', { 'x-error-code': 'RevisionNotFound' });
    const bytes = repo.files[name];
    if (!bytes) return send(res, 404, 'Entry not found', { 'x-error-code': 'EntryNotFound' });
    if (name.endsWith('.safetensors')) return send(res, 302, '', { location: `${cdnUrl}/repos/${repoId}/${encodeURIComponent(name)}` });
    return send(res, 200, bytes, { 'x-repo-commit': shaOf(repoId) });
  }
  send(res, 404, 'no route');
}

function cdnHandler(req: http.IncomingMessage, res: http.ServerResponse) {
  requests.push(`cdn ${req.url}`);
  const m = /^\/repos\/([^/]+\/[^/]+)\/([^/]+)$/.exec(req.url!);
  const repo = m && REPOS[m[1]];
  const bytes = repo && repo.files[decodeURIComponent(m[2])];
  if (!repo || !bytes) return send(res, 404, 'no such blob');
  res.writeHead(200, { 'content-length': String(bytes.byteLength) });
  if (!repo.slow) return res.end(bytes);
  const piece = Math.ceil(bytes.byteLength / 10);
  let at = 0;
  const next = () => {
    if (res.destroyed) return;
    res.write(bytes.subarray(at, at + piece));
    at += piece;
    if (at < bytes.byteLength) setTimeout(next, 40);
    else res.end();
  };
  next();
}

beforeAll(async () => {
  const listen = (s: http.Server) => new Promise<string>((ok) => s.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  hub = http.createServer(hubHandler);
  cdn = http.createServer(cdnHandler);
  [hubUrl, cdnUrl] = await Promise.all([listen(hub), listen(cdn)]);
});
afterAll(() => {
  hub?.closeAllConnections();
  cdn?.closeAllConnections();
  hub?.close();
  cdn?.close();
});

/** Cache Storage semantics in memory: an entry is stored only once its whole body has been read. */
function memoryCache(): HubCache & { keys: () => string[] } {
  const m = new Map<string, Uint8Array>();
  return {
    async match(k) {
      const b = m.get(k);
      return b ? new Response(b.slice()) : undefined;
    },
    async put(k, r) {
      const b = new Uint8Array(await r.arrayBuffer());
      m.set(k, b);
    },
    keys: () => [...m.keys()],
  };
}

/** Runs f and returns the requests it made. */
async function counting<T>(f: () => Promise<T>): Promise<{ result: T; reqs: string[] }> {
  const from = requests.length;
  const result = await f();
  return { result, reqs: requests.slice(from) };
}

async function rejects(p: Promise<unknown>): Promise<HubError> {
  const e = await p.then(() => null, (err) => err);
  expect(e, 'expected a rejection').toBeInstanceOf(HubError);
  return e as HubError;
}

const MODEL_FILES = ['config.json', 'tokenizer.json', 'generation_config.json', 'tokenizer_config.json', 'model.safetensors'];

describe('listHubFiles', () => {
  it('picks config, tokenizer and safetensors with their sizes, at the commit sha; skips README, .bin, onnx/', async () => {
    const l = await listHubFiles('test/tiny', { endpoint: hubUrl });
    expect(l.files.map((f) => f.name)).toEqual(MODEL_FILES);
    for (const f of l.files) expect(f.size).toBe(fixtureFiles[f.name].byteLength);
    expect(l.commit).toBe(shaOf('test/tiny'));
    expect(l.totalBytes).toBe(Object.values(fixtureFiles).reduce((s, b) => s + b.byteLength, 0));
  });

  it('sharded weights: the index and exactly the shards it names', async () => {
    const l = await listHubFiles('test/sharded', { endpoint: hubUrl });
    expect(l.files.map((f) => f.name).slice(-3)).toEqual(['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(Object.keys(l.fetched)).toEqual(['model.safetensors.index.json']);
  });

  it('errors say what is wrong and what to do', async () => {
    const o = { endpoint: hubUrl };
    expect((await rejects(listHubFiles('test/nope', o))).message).toMatch(/not found, or private.*token/);
    expect((await rejects(listHubFiles('test/nope', { ...o, token: GOOD_TOKEN }))).message).toMatch(/no such model.*HTTP 404/);
    expect((await rejects(listHubFiles('test/tiny', { ...o, revision: 'v9' }))).message).toMatch(/no revision "v9"/);
    const gated = await rejects(listHubFiles('test/gated', o));
    expect([gated.code, gated.message]).toEqual(['gated', expect.stringMatching(/gated.*accept its conditions.*token/)]);
    expect((await rejects(listHubFiles('test/private', o))).code).toBe('unauthorized');
    const bin = await rejects(listHubFiles('test/binonly', o));
    expect([bin.code, bin.message]).toEqual(['no-weights', expect.stringMatching(/no model\.safetensors.*PyTorch \.bin/)]);
    expect((await rejects(listHubFiles('test/adapter', o))).message).toMatch(/PEFT adapter, not a model/);
    expect((await rejects(listHubFiles('bad name!', o))).code).toBe('bad-name');
    const down = await rejects(listHubFiles('test/tiny', { endpoint: 'http://127.0.0.1:1' }));
    expect([down.code, down.message]).toEqual(['network', expect.stringMatching(/cannot reach http:\/\/127\.0\.0\.1:1/)]);
  });
});

describe('downloadHubModel', () => {
  it('in memory: byte-identical files through the 302 to the CDN, progress events, nothing else requested', async () => {
    const events: HubProgress[] = [];
    const { result: src, reqs } = await counting(() => downloadHubModel('test/tiny', { endpoint: hubUrl, onProgress: (p) => events.push(p) }));
    expect(await src.list()).toEqual([...MODEL_FILES].sort());
    for (const f of MODEL_FILES) expect(Buffer.from(await src.read(f)).equals(Buffer.from(fixtureFiles[f])), f).toBe(true);
    const sha = shaOf('test/tiny');
    expect(reqs).toEqual([
      'hub /api/models/test/tiny/revision/main',
      ...MODEL_FILES.map((f) => `hub /test/tiny/resolve/${sha}/${f}`),
      'cdn /repos/test/tiny/model.safetensors',
    ]);
    // weights come in 10 pieces over ~400 ms: some events in between, the last one complete
    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.some((e) => e.loaded > 0 && e.loaded < e.total!)).toBe(true);
    expect(weights.every((e, i) => i === 0 || e.loaded >= weights[i - 1].loaded)).toBe(true);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ file: 'model.safetensors', loaded: fixtureFiles['model.safetensors'].byteLength, filesDone: 5, filesTotal: 5, cached: false });
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.bytesPerSec).toBeGreaterThan(0);
    const m = await loadModelFiles(src);
    expect(m.tensors.size).toBe(parseSafetensors(fixtureFiles['model.safetensors'], 'f').tensors.size);
  });

  it('with a cache: the second call downloads nothing (one listing request), and works offline', async () => {
    const cache = memoryCache();
    const first = await counting(() => downloadHubModel('test/sharded', { endpoint: hubUrl, cache }));
    expect(first.reqs.filter((r) => r.includes('/resolve/')).length).toBe(7); // 4 json files, the index (once), 2 shards
    expect(first.reqs.filter((r) => r.includes('index.json')).length).toBe(1);
    const events: HubProgress[] = [];
    const second = await counting(() => downloadHubModel('test/sharded', { endpoint: hubUrl, cache, onProgress: (p) => events.push(p) }));
    expect(second.reqs).toEqual(['hub /api/models/test/sharded/revision/main']);
    expect(events.length).toBe(7);
    expect(events.every((e) => e.cached)).toBe(true);
    const files = sharded();
    for (const f of await second.result.list()) expect(Buffer.from(await second.result.read(f)).equals(Buffer.from(files[f])), f).toBe(true);
    // the Hub unreachable: the kept listing and files still load
    const offline = await counting(() => downloadHubModel('test/sharded', { endpoint: hubUrl, cache, fetch: async () => { throw new TypeError('fetch failed'); } }));
    expect(offline.reqs).toEqual([]);
    const m = await loadModelFiles(offline.result);
    const want = parseSafetensors(fixtureFiles['model.safetensors'], 'f').tensors;
    expect([...m.tensors.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, t] of want) expect(Buffer.from(m.tensors.get(k)!.data).equals(Buffer.from(t.data)), k).toBe(true);
  });

  it('gated: no token → asks for one before any download; a token without access → the 401 explained; the right token works', async () => {
    const noToken = await counting(() => rejects(downloadHubModel('test/gated', { endpoint: hubUrl })));
    expect(noToken.result.message).toMatch(/gated.*HF_TOKEN/);
    expect(noToken.reqs.some((r) => r.includes('/resolve/'))).toBe(false);
    const wrong = await rejects(downloadHubModel('test/gated', { endpoint: hubUrl, token: 'hf_wrong' }));
    expect([wrong.code, wrong.message]).toEqual(['gated', expect.stringMatching(/accept its conditions.*the token given has no access yet \(HTTP 401\)/)]);
    const ok = await downloadHubModel('test/gated', { endpoint: hubUrl, token: GOOD_TOKEN });
    expect(Buffer.from(await ok.read('model.safetensors')).equals(Buffer.from(fixtureFiles['model.safetensors']))).toBe(true);
    const priv = await downloadHubModel('test/private', { endpoint: hubUrl, token: GOOD_TOKEN });
    expect((await priv.list()).length).toBe(5);
  });

  it('a download cut short is an error and leaves nothing in the cache', async () => {
    const cache = memoryCache();
    const e = await rejects(downloadHubModel('test/truncated', { endpoint: hubUrl, cache }));
    expect([e.code, e.message]).toEqual(['size', expect.stringMatching(/model\.safetensors: received \d+ bytes but the Hub lists \d+/)]);
    expect(cache.keys().some((k) => k.endsWith('model.safetensors'))).toBe(false);
    expect(cache.keys().some((k) => k.endsWith('config.json'))).toBe(true);
  });

  it('abort (signal) stops mid-file; the partial file is not cached, the next call resumes with it', async () => {
    const cache = memoryCache();
    const ctl = new AbortController();
    const err = await downloadHubModel('test/slow', {
      endpoint: hubUrl, cache, signal: ctl.signal,
      onProgress: (p) => p.file === 'model.safetensors' && p.loaded > 0 && ctl.abort(),
    }).then(() => null, (x) => x);
    expect((err as Error)?.name).toBe('AbortError');
    expect(cache.keys().some((k) => k.endsWith('model.safetensors'))).toBe(false);
    const again = await counting(() => downloadHubModel('test/slow', { endpoint: hubUrl, cache }));
    expect(again.reqs.filter((r) => r.includes('/resolve/'))).toEqual([`hub /test/slow/resolve/${shaOf('test/slow')}/model.safetensors`]);
  });
});

describe('Node: hf:owner/name into a cache folder', () => {
  it('parseHubRef: hf: always, a bare owner/name only when no such local path exists, @revision', () => {
    expect(parseHubRef('hf:test/tiny', () => true)).toEqual({ repo: 'test/tiny', revision: 'main' });
    expect(parseHubRef('test/tiny@v1.0', () => false)).toEqual({ repo: 'test/tiny', revision: 'v1.0' });
    expect(parseHubRef('hf:gpt2')).toEqual({ repo: 'gpt2', revision: 'main' });
    expect(parseHubRef('test/tiny', () => true)).toBe(null);
    expect(parseHubRef('./models/x', () => false)).toBe(null);
    expect(parseHubRef('/abs/dir', () => false)).toBe(null);
    expect(parseHubRef('a/b/c', () => false)).toBe(null);
    expect(() => parseHubRef('hf:a--b/c')).toThrow(/not a Hugging Face repo id/);
  });

  it('resolveHubModel: downloads once into <cache>/owner--name/<sha>/, then reads it from there', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'weblora-hub-'));
    const lines: string[] = [];
    const first = await counting(() => resolveHubModel('hf:test/sharded', { endpoint: hubUrl, cacheDir, log: (l) => lines.push(l) }));
    const dir = first.result!.dir;
    expect(dir).toBe(path.join(cacheDir, 'test--sharded', shaOf('test/sharded')));
    const files = sharded();
    expect(readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
    for (const f of readdirSync(dir)) expect(readFileSync(path.join(dir, f)).equals(Buffer.from(files[f])), f).toBe(true);
    expect(readdirSync(path.join(cacheDir, 'test--sharded', 'refs'))).toEqual(['main.json']);
    expect(lines.at(-1)).toMatch(/test\/sharded@main \([0-9a-f]{12}\): 7 files, .* downloaded/);
    const second = await counting(() => resolveHubModel('test/sharded', { endpoint: hubUrl, cacheDir, log: (l) => lines.push(l) }));
    expect(second.result!.dir).toBe(dir);
    expect(second.reqs).toEqual(['hub /api/models/test/sharded/revision/main']);
    expect(lines.at(-1)).toMatch(/all cached/);
    expect(await resolveHubModel(fixture, { endpoint: hubUrl, cacheDir })).toBe(null);
  });
});

describe('CLI', () => {
  const env = { HF_ENDPOINT: process.env.HF_ENDPOINT, WEBLORA_CACHE: process.env.WEBLORA_CACHE };
  beforeAll(() => void (process.env.WEBLORA_CACHE = mkdtempSync(path.join(tmpdir(), 'weblora-hub-cli-'))));
  afterAll(() => {
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  });
  const fx = path.resolve(__dirname, '../fixtures');
  const e = JSON.parse(readFileSync(path.join(fx, 'llama/expect.json'), 'utf8'));
  const data = path.join(fx, 'data.jsonl');
  const args = ['--data', data, '--seq', String(e.seq), '--json'];

  it('eval --model hf:test/tiny --hub-endpoint: the loss of the local fixture folder; then a bare owner/name (HF_ENDPOINT) from the cache', async () => {
    const { cli } = await import('../cli/fixture-cases');
    const local = (await cli(['eval', '--model', fixture, ...args])).json[0];
    const first = await counting(() => cli(['eval', '--model', 'hf:test/tiny', '--hub-endpoint', hubUrl, ...args]));
    expect(first.result.json[0]).toEqual(local);
    expect(Math.abs(first.result.json[0].loss - e.eval.base.loss) / e.eval.base.loss).toBeLessThan(1e-4);
    expect(first.reqs.filter((r) => r.startsWith('cdn')).length).toBe(1);
    expect(first.result.err.some((l) => /downloading test\/tiny from http:\/\/127\.0\.0\.1/.test(l))).toBe(true);
    process.env.HF_ENDPOINT = hubUrl;
    const again = await counting(() => cli(['eval', '--model', 'test/tiny', ...args]));
    expect(again.result.json[0]).toEqual(local);
    expect(again.reqs).toEqual(['hub /api/models/test/tiny/revision/main']);
    const { main } = await import('../../src/engine/cli');
    const err: string[] = [];
    expect(await main(['eval', '--model', 'test/nope', ...args], { out: () => undefined, err: (l) => err.push(l) })).toBe(1);
    expect(err.join('\n')).toMatch(/weblora: error: test\/nope is not a local folder, and on the Hub: .*not found, or private/);
  }, 300_000);

  it('train --model hf:test/tiny: the adapter records the Hub id as its base model, not the cache folder', async () => {
    const { cli } = await import('../cli/fixture-cases');
    const out = path.join(process.env.WEBLORA_CACHE!, 'adapter');
    await cli(['train', '--model', 'hf:test/tiny', '--hub-endpoint', hubUrl, '--data', data, '--steps', '1', '--batch', '1', '--seq', '8', '--lr', '1e-3', '--out', out]);
    expect(JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8')).base_model_name_or_path).toBe('test/tiny');
  }, 300_000);
});
