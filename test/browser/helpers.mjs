// Helpers of the browser walkthrough (run.mjs): page steps used by several cases, a safetensors header reader, and
// a fake Hugging Face Hub on 127.0.0.1 (the Hub's two URL shapes, CORS open, the weights streamed in slow chunks so
// the progress bar can be seen) that counts what it serves.
import { createServer } from 'node:http';
import { unzipSync } from 'fflate';
import net from 'node:net';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TINY = path.join(ROOT, 'public/models/weblora-demo-tiny');


/** The page with the demo-tiny model loaded (from its folder through the folder input when `viaFolder`). */
export async function openWithTiny(page, baseUrl, { viaFolder = false } = {}) {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(baseUrl + '/');
  await page.getByTestId('model-card').waitFor({ timeout: 60_000 });
  await waitForModelIdle(page);
  if (viaFolder) await page.getByTestId('model-drop-folder').setInputFiles(TINY);
  else if (!/^WebLoRA demo-tiny \(built in\)$/.test(await page.getByTestId('model-card').locator('h2').innerText())) await page.getByTestId('model-demo-tiny').click();
  const want = viaFolder ? 'weblora-demo-tiny \\(from your disk\\)' : 'WebLoRA demo-tiny \\(built in\\)';
  await page.waitForFunction((w) => new RegExp(`^${w}$`).test(document.querySelector('[data-testid=model-card] h2')?.textContent ?? ''), want, { timeout: 60_000 });
  await waitForModelIdle(page);
}

export const waitForModelIdle = (page) => page.waitForFunction(() => !document.querySelector('[data-testid=model-progress]'), null, { timeout: 60_000 });

export async function fill(page, testId, value) {
  const input = page.getByTestId(testId);
  await input.fill(String(value));
  if ((await input.inputValue()) !== String(value)) throw new Error(`${testId} did not take ${value}`);
}

export async function waitForRunEnd(page, ms) {
  await page.waitForFunction(() => /finished|stopped|error/i.test(document.querySelector('[data-testid=train-state] .pill')?.textContent ?? ''), null, { timeout: ms });
  const state = (await page.getByTestId('train-state').innerText()).replace(/\s+/g, ' ');
  if (!/^finished/i.test(state)) {
    const err = (await page.getByTestId('train-error').count()) ? await page.getByTestId('train-error').innerText() : '';
    throw new Error(`the run ended as "${state}" ${err.replace(/\s+/g, ' ')}`);
  }
}

/** safetensors bytes → header {name: {dtype, shape, data_offsets}} (checked against the file length). */
export function safetensorsHeader(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const dataLen = bytes.byteLength - 8 - n;
  for (const [k, t] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const size = { F32: 4, F16: 2, BF16: 2, F64: 8 }[t.dtype] * t.shape.reduce((a, b) => a * b, 1);
    if (t.data_offsets[1] - t.data_offsets[0] !== size || t.data_offsets[1] > dataLen) throw new Error(`safetensors: ${k} has bad offsets`);
  }
  return header;
}

/**
 * Serves `dir` as the Hub repo `repo` at one commit:
 *   GET /api/models/{repo}/revision/main?blobs=true → {sha, siblings: [{rfilename, size}]}
 *   GET /{repo}/resolve/{sha}/{file}                → the bytes (files over 64 KB in 16 chunks, 150 ms apart)
 * `served` counts file downloads by name.
 */
export async function fakeHub(repo, dir) {
  const sha = '0123456789abcdef0123456789abcdef01234567';
  const files = readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile());
  const served = {};
  const server = createServer(async (req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'authorization');
    if (req.method === 'OPTIONS') return res.end();
    const url = new URL(req.url, 'http://x');
    if (url.pathname === `/api/models/${repo}/revision/main`) {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ id: repo, sha, siblings: files.map((f) => ({ rfilename: f, size: statSync(path.join(dir, f)).size })) }));
    }
    const m = url.pathname.match(new RegExp(`^/${repo}/resolve/${sha}/(.+)$`));
    if (!m || !files.includes(decodeURIComponent(m[1]))) return (res.statusCode = 404), res.end('not found');
    const name = decodeURIComponent(m[1]);
    served[name] = (served[name] ?? 0) + 1;
    const bytes = readFileSync(path.join(dir, name));
    res.setHeader('content-length', bytes.length);
    if (bytes.length < 65536) return res.end(bytes);
    const chunk = Math.ceil(bytes.length / 16);
    for (let at = 0; at < bytes.length && !res.destroyed; at += chunk) {
      res.write(bytes.subarray(at, at + chunk));
      await new Promise((r) => setTimeout(r, 150));
    }
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${server.address().port}`, served, close: () => new Promise((r) => server.close(r)) };
}

/** The library's zip of the demo-tiny LoRA run, read as PEFT reads it: config fields, tensor names and shapes. */
export function checkLoraZip(zip) {
  const files = unzipSync(zip);
  const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
  if (config.peft_type !== 'LORA' || config.r !== 8 || config.lora_alpha !== 16 || String(config.target_modules.sort()) !== 'q_proj,v_proj')
    throw new Error(`adapter_config.json: ${JSON.stringify(config).slice(0, 300)}`);
  const header = safetensorsHeader(files['adapter_model.safetensors']);
  const keys = Object.keys(header).filter((k) => k !== '__metadata__').sort();
  const want = [0, 1].flatMap((l) => ['q_proj', 'v_proj'].flatMap((p) => ['lora_A', 'lora_B'].map((w) => `base_model.model.model.layers.${l}.self_attn.${p}.${w}.weight`))).sort();
  if (String(keys) !== String(want)) throw new Error(`safetensors keys: ${keys.join(', ')}`);
  if (String(header['base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight'].shape) !== '32,8') throw new Error('v_proj lora_B shape');
  return files;
}

// ---- machinery ----

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

export function waitForPort(port, ms, server) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (server.exitCode !== null) return reject(new Error(`vite preview exited with code ${server.exitCode}`));
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(undefined);
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`vite preview did not listen on port ${port} within ${ms} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
