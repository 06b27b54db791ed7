// Browser tests: Debian's Chromium, headless, WebGPU on whatever adapter it finds (SwiftShader on a machine
// with no GPU), against the built app served by `vite preview`. Plain Node, no test framework:
//   vite build && node test/browser/run.mjs [case-name-filter]
// Every case gets a fresh page; the last line is always "<n> passed, <m> failed" and the exit code is 1 on
// any failure. Nothing here may hang: each case has its own timeout, the whole run has one, and the server and
// browser are killed in `finally`.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLoraZip, fakeHub, fill, freePort, openWithTiny, waitForModelIdle, waitForPort, waitForRunEnd, withTimeout } from './helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOTS = path.join(ROOT, 'test/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OVERALL_TIMEOUT_MS = 5 * 60_000;
const CASE_TIMEOUT_MS = 90_000;

// Chromium 156 on Linux exposes WebGPU with --enable-unsafe-webgpu alone; with no GPU it picks SwiftShader
// (Vulkan on the CPU, shipped in Debian's chromium package) by itself. The page must be a secure context
// (http://127.0.0.1 is one), otherwise navigator.gpu does not exist.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--no-default-browser-check',
];

// ---- cases ----------------------------------------------------------------------------------------------------
// Each case: { name, run(ctx) } where ctx = { page, baseUrl, screenshot(name) }. Throw to fail.
// The cases share one browser profile and run in order: the library case finds the runs the training case saved.

const METHODS = ['lora', 'loraplus', 'vera', 'lorafa', 'loradrop', 'adalora', 'dora', 'deltalora'];
const TINY = path.join(ROOT, 'public/models/weblora-demo-tiny');

const CASES = [
  {
    name: 'foundation: the app finds a WebGPU adapter in its engine worker',
    async run({ page, baseUrl, screenshot }) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(baseUrl + '/');
      await page.getByTestId('tab-gpu').click();
      // Either outcome of the GPU check ends the wait; a missing adapter is a failure with the page's own words.
      const outcome = page.locator('[data-testid="adapter-line"], [data-testid="no-webgpu"], [data-testid="gpu-error"]');
      await outcome.first().waitFor({ timeout: 60_000 });
      const line = page.getByTestId('adapter-line');
      if (!(await line.count())) {
        await screenshot('foundation');
        throw new Error(`no adapter line; the page says: ${(await outcome.first().innerText()).replace(/\s+/g, ' ').slice(0, 400)}`);
      }
      const text = (await line.innerText()).trim();
      const m = /^WebGPU adapter: (\S.*)$/.exec(text);
      if (!m || /unnamed adapter/.test(m[1])) throw new Error(`adapter line names no adapter: "${text}"`);
      console.log(`    ${text}`);
      // The limits table must show real numbers from the device (a storage binding of at least the 128 MiB default).
      const binding = await page.locator('th[title="maxStorageBufferBindingSize"] + td').innerText();
      if (!/\d+(\.\d)? (MiB|GiB|TiB)$/.test(binding.trim())) throw new Error(`storage binding limit looks wrong: "${binding}"`);
      await screenshot('foundation');
    },
  },
  {
    name: 'no WebGPU: the page explains which browsers have it',
    async run({ page, baseUrl, screenshot }) {
      await page.setViewportSize({ width: 1280, height: 800 });
      // Simulates a browser without WebGPU: navigator.gpu reads as undefined on the page.
      await page.addInitScript(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      await page.goto(baseUrl + '/');
      const box = page.getByTestId('no-webgpu');
      await box.waitFor({ timeout: 30_000 });
      const text = (await box.innerText()).replace(/\s+/g, ' ');
      for (const must of ['Chrome or Edge 113+', 'Chrome 121+', 'Safari 26+', 'Firefox 141+', 'enable-unsafe-webgpu']) {
        if (!text.includes(must)) throw new Error(`the explanation lacks "${must}": ${text.slice(0, 300)}`);
      }
      if (await page.getByTestId('adapter-line').count()) throw new Error('an adapter line is shown although WebGPU is absent');
      if (await page.getByTestId('tab-train').count()) throw new Error('the training steps are offered although WebGPU is absent');
      await screenshot('no-webgpu');
    },
  },
  {
    name: 'model: the demo is chosen on first visit, a folder loads, a Hub failure says what to try',
    async run({ page, baseUrl, screenshot }) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(baseUrl + '/');
      await page.getByTestId('model-card').waitFor({ timeout: 60_000 });
      const arch = await page.getByTestId('model-architecture').innerText();
      if (!/LlamaForCausalLM \(8 layers/.test(arch) && !/LlamaForCausalLM/.test(arch)) throw new Error(`first visit: ${arch}`);
      if (!/WebLoRA demo \(built in\)/.test(await page.getByTestId('model-card').locator('h2').innerText())) throw new Error('the built-in demo is not the first model');
      // No network here: a Hub download fails, and the page must say so with advice.
      await page.getByTestId('hub-repo').fill('HuggingFaceTB/SmolLM2-135M');
      await page.getByTestId('hub-download').click();
      await page.getByTestId('model-error').waitFor({ timeout: 30_000 });
      const err = (await page.getByTestId('model-error').innerText()).replace(/\s+/g, ' ');
      if (!/What to try/.test(err)) throw new Error(`the Hub error gives no advice: ${err}`);
      console.log(`    Hub offline: ${err.slice(0, 110)}…`);
      await waitForModelIdle(page);
      // An architecture the engine does not run: the error names it and the supported ones
      const mistral = JSON.stringify({ architectures: ['MistralForCausalLM'], model_type: 'mistral', hidden_size: 64 });
      await page.getByTestId('model-drop-files').setInputFiles([{ name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(mistral) }]);
      await page.waitForFunction(() => /not supported/.test(document.querySelector('[data-testid=model-error]')?.textContent ?? ''), null, { timeout: 30_000 });
      const arch2 = (await page.getByTestId('model-error').innerText()).replace(/\s+/g, ' ');
      if (!/MistralForCausalLM/.test(arch2) || !/LlamaForCausalLM/.test(arch2)) throw new Error(`unsupported architecture: ${arch2}`);
      await screenshot('model-unsupported');
      // A model folder through the folder input (the same path as a drop): the tiny demo's files.
      await page.getByTestId('model-drop-folder').setInputFiles(TINY);
      await page.waitForFunction(() => /weblora-demo-tiny \(from your disk\)/.test(document.querySelector('[data-testid=model-card] h2')?.textContent ?? ''), null, { timeout: 60_000 });
      const params = await page.getByTestId('model-parameters').innerText();
      if (params.trim() !== '354,624') throw new Error(`demo-tiny parameters: ${params}`);
      if (!/BF16/.test(await page.getByTestId('model-weights').innerText())) throw new Error('dtype missing');
      await page.getByTestId('memory-estimate').waitFor();
      if (await page.getByTestId('model-error').count()) throw new Error('the Hub error is still shown after a model loaded');
      await screenshot('model');
      // A Hub repo (a fake Hub on this machine): downloaded with a progress bar, then read from the browser's cache
      const hub = await fakeHub('weblora/demo-tiny', TINY);
      try {
        await page.getByText('Gated model or another endpoint').click();
        await page.getByTestId('hub-endpoint').fill(hub.endpoint);
        await page.getByTestId('hub-repo').fill('weblora/demo-tiny');
        await page.getByTestId('hub-download').click();
        await page.waitForFunction(() => /Downloading .* of .*\/s/.test(document.querySelector('[data-testid=model-progress]')?.textContent ?? ''), null, { timeout: 30_000 });
        await screenshot('model-hub-download');
        // cancelled in the middle of the weights: the finished files stay cached, the next try fetches the rest
        await page.waitForFunction(() => /model\.safetensors/.test(document.querySelector('[data-testid=model-progress]')?.textContent ?? ''), null, { timeout: 30_000 });
        await page.getByTestId('model-cancel').click();
        await page.waitForFunction(() => /cancelled/.test(document.querySelector('[data-testid=model-error]')?.textContent ?? ''), null, { timeout: 30_000 });
        await page.getByTestId('hub-download').click();
        const hubCard = () => page.waitForFunction(() => /weblora\/demo-tiny \(Hugging Face Hub\)/.test(document.querySelector('[data-testid=model-card] h2')?.textContent ?? ''), null, { timeout: 60_000 });
        await hubCard();
        if (hub.served['model.safetensors'] !== 2 || hub.served['tokenizer.json'] !== 1 || hub.served['eval-heldout.jsonl']) throw new Error(`served: ${JSON.stringify(hub.served)}`);
        await page.reload(); // the last model is loaded again: from the cache, not downloaded
        await hubCard();
        await hub.close();
        await page.reload(); // and with the Hub gone
        await hubCard();
        if (hub.served['model.safetensors'] !== 2) throw new Error(`downloaded again after a reload: ${JSON.stringify(hub.served)}`);
      } finally {
        await hub.close().catch(() => {});
      }
    },
  },
  {
    name: 'data: demo in one click, format detected, bad rows listed by line, preview with masking',
    async run({ page, baseUrl, screenshot }) {
      await openWithTiny(page, baseUrl);
      await page.getByTestId('tab-data').click();
      // a file with two bad rows among good ones of two formats
      const bad = ['{"text": "good text row"}', '{"text": broken', '{"foo": 1}', '', '{"prompt": "Q: 2+2?\\n", "completion": "4"}'].join('\n');
      await page.getByTestId('data-drop-files').setInputFiles({ name: 'mixed.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(bad) });
      await page.getByTestId('bad-rows').waitFor({ timeout: 30_000 });
      const rows = await page.getByTestId('bad-rows').locator('tbody tr').allInnerTexts();
      if (rows.length !== 2 || !/^2\s/.test(rows[0]) || !/^3\s/.test(rows[1]) || !/invalid JSON/.test(rows[0]) || !/no known fields/.test(rows[1]))
        throw new Error(`bad rows: ${JSON.stringify(rows)}`);
      if (!/2 usable examples/.test(await page.getByTestId('data-summary').innerText())) throw new Error('the two good rows are not both kept');
      await screenshot('data-bad-rows');
      await page.getByTestId('data-val').selectOption('1');
      await page.getByTestId('data-demo-define').click();
      await page.waitForFunction(() => /demo-define\.jsonl/.test(document.querySelector('[data-testid=data-summary]')?.textContent ?? ''), null, { timeout: 60_000 });
      const summary = (await page.getByTestId('data-summary').innerText()).replace(/\s+/g, ' ');
      if (!/649 usable examples, read as prompt \/ completion/.test(summary)) throw new Error(`summary: ${summary}`);
      if (!/643 for training, 6 for validation/.test(summary)) throw new Error(`split: ${summary}`);
      const first = page.getByTestId('data-preview').locator('li').first();
      if (!/Define the word abasement/.test(await first.locator('.masked').innerText())) throw new Error('the prompt is not shown as masked');
      if (!/decent and customary/.test(await first.locator('.trained').innerText())) throw new Error('the completion is not shown as trained');
      await page.getByTestId('bad-rows-none').waitFor();
      await screenshot('data');
    },
  },
  {
    name: 'train: eight methods on demo-tiny, pause/resume, stop/resume from the library, chart, samples, try-out',
    timeoutMs: 270_000,
    async run({ page, baseUrl, screenshot }) {
      await openWithTiny(page, baseUrl);
      await page.getByTestId('tab-data').click();
      await page.getByTestId('data-val').selectOption('1');
      await page.getByTestId('data-demo-define').click();
      await page.getByTestId('data-preview').waitFor({ timeout: 60_000 });
      await page.getByTestId('tab-method').click();
      for (const [id, v] of [['set-steps', 2], ['set-batch', 2], ['set-seq', 16], ['set-eval-every', 0], ['set-sample-every', 2], ['set-sample-tokens', 4]]) await fill(page, id, v);
      const counts = {};
      for (const m of METHODS) counts[m] = (await page.getByTestId(`method-${m}`).locator('.m-count').innerText()).trim();
      if (Object.values(counts).some((c) => !/params$/.test(c))) throw new Error(`parameter counts: ${JSON.stringify(counts)}`);
      await screenshot('method');
      const running = () => page.waitForFunction(() => /running/i.test(document.querySelector('[data-testid=train-state] .pill')?.textContent ?? ''), null, { timeout: 60_000 });
      for (const m of METHODS) {
        const t0 = Date.now();
        await page.getByTestId('tab-method').click();
        await page.getByTestId(`method-${m}`).locator('input').check();
        if (m === 'loraplus') await fill(page, 'set-sample-every', 0); // samples once (LoRA) is enough: decoding is slow on a CPU
        await page.getByTestId('tab-train').click();
        await page.getByTestId('train-start').click();
        const pill = (re) => page.waitForFunction((src) => new RegExp(src, 'i').test(document.querySelector('[data-testid=train-state] .pill')?.textContent ?? ''), re, { timeout: 90_000 });
        if (m === 'lora') {
          // pause lands after the step in flight (the first one compiles its kernels: long); stop keeps a checkpoint,
          // and the library resumes it to the end
          await running();
          await page.getByTestId('train-pause').click();
          await page.getByTestId('train-resume').waitFor({ timeout: 90_000 });
          await page.getByTestId('train-stop').click();
          await pill('^stopped$');
          await page.getByTestId('train-saved').waitFor({ timeout: 20_000 });
          await page.getByTestId('tab-library').click();
          const item = page.getByTestId('library-item').filter({ has: page.locator('.lib-name', { hasText: /^LoRA · / }) });
          if (!/checkpoint/.test(await item.innerText())) throw new Error('the stopped run is not kept as a checkpoint');
          if (!/Steps\s*1 \/ 2/i.test(await item.innerText())) throw new Error(`checkpoint steps: ${(await item.innerText()).replace(/\s+/g, ' ')}`);
          await item.getByRole('button', { name: 'Resume training' }).click();
        }
        if (m === 'loraplus') {
          // paused while preparing: the run waits before its first step, and Resume trains it to the end
          await page.getByTestId('train-pause').click();
          await pill('^paused$');
          await page.getByTestId('train-resume').click();
        }
        await waitForRunEnd(page, 120_000);
        const plot = page.getByTestId('loss-chart-plot');
        const points = Number(await plot.getAttribute('data-points'));
        const lines = await plot.locator('path.recharts-curve').evaluateAll((ps) => ps.map((p) => (p.getAttribute('d') ?? '').length));
        const steps = 2;
        if (points !== steps || lines.filter((n) => n > 10).length < 2) throw new Error(`${m}: the chart has ${points} points and lines ${JSON.stringify(lines)}`);
        const loss = Number(await page.getByTestId('stat-loss').innerText());
        const val = await page.getByTestId('stat-val').innerText();
        if (!(loss > 0 && loss < 20) || !new RegExp(`@${steps}$`).test(val)) throw new Error(`${m}: train loss ${loss}, validation ${val}`);
        await page.getByTestId('train-saved').waitFor({ timeout: 20_000 });
        console.log(`    ${m}: ${((Date.now() - t0) / 1000).toFixed(1)} s, loss ${loss}, val ${val}, ${counts[m]}`);
        if (m === 'lora') {
          if (!(await page.getByTestId('sample-tuned').count())) throw new Error('no sample generations after the LoRA run');
          await screenshot('train');
        }
        if (m === 'loraplus') {
          // the library's LoRA adapter, loaded for a try-out on the warm model
          await page.getByTestId('tab-library').click();
          const item = page.getByTestId('library-item').filter({ has: page.locator('.lib-name', { hasText: /^LoRA · / }) });
          await item.getByRole('button', { name: 'Try it out' }).click();
          await page.getByTestId('tryout').waitFor({ timeout: 60_000 });
          await fill(page, 'tryout-tokens', 4);
          await page.getByTestId('tryout-prompt').fill('Define the word alone.\\n');
          await page.getByTestId('tryout-send').click();
          await page.getByTestId('tryout-answer').waitFor({ timeout: 60_000 });
          await screenshot('tryout');
        }
      }
    },
  },
  {
    name: 'library: the runs survive a reload, download as PEFT files, import back, compare',
    timeoutMs: 120_000,
    async run({ page, baseUrl, screenshot }) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(baseUrl + '/');
      await page.reload(); // a fresh page load reads IndexedDB again
      await page.getByTestId('tab-library').click();
      await page.getByTestId('library-list').waitFor({ timeout: 30_000 });
      const items = page.getByTestId('library-item');
      const names = await items.locator('.lib-name').allInnerTexts();
      for (const t of ['LoRA', 'LoRA+', 'VeRA', 'LoRA-FA', 'LoRA-drop', 'AdaLoRA', 'DoRA', 'Delta-LoRA'])
        if (!names.some((n) => n.startsWith(`${t} · weblora-demo-tiny`))) throw new Error(`no ${t} run in the library: ${JSON.stringify(names)}`);
      await screenshot('library');
      // download the LoRA adapter and read it as PEFT does
      const lora = items.filter({ has: page.locator('.lib-name', { hasText: /^LoRA · / }) }).first();
      const [download] = await Promise.all([page.waitForEvent('download'), lora.getByRole('button', { name: 'Download zip' }).click()]);
      const zipPath = path.join(os.tmpdir(), `weblora-${Date.now()}.zip`);
      await download.saveAs(zipPath);
      const files = checkLoraZip(readFileSync(zipPath));
      console.log(`    zip: ${Object.keys(files).join(', ')}`);
      // import it back
      const before = await items.count();
      await page.getByTestId('library-import-files').setInputFiles(zipPath);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=library-item]').length === n + 1, before, { timeout: 30_000 });
      rmSync(zipPath, { force: true });
      await page.getByTestId('tab-compare').click();
      await page.getByTestId('compare-chart').waitFor({ timeout: 30_000 });
      await screenshot('compare');
    },
  },
];

// ---- machinery ----------------------------------------------------------------------------------------------

/** @typedef {{ page: import('playwright-core').Page, baseUrl: string, screenshot: (name: string) => Promise<void> }} CaseContext */

async function main() {
  const filter = process.argv[2];
  const cases = filter ? CASES.filter((c) => c.name.includes(filter)) : CASES;
  let passed = 0;
  let failed = 0;
  let server = null;
  let browser = null;
  const serverLog = [];
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'weblora-chromium-'));

  // The last resort: whatever is stuck, end the process with a failure line.
  const overall = setTimeout(() => {
    console.error(`browser tests: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s`);
    if (server && server.exitCode === null) server.kill('SIGKILL');
    console.log(`${passed} passed, ${cases.length - passed} failed`);
    process.exit(1);
  }, OVERALL_TIMEOUT_MS);
  overall.unref();

  try {
    if (!existsSync(path.join(ROOT, 'dist/app/index.html'))) throw new Error('dist/app/index.html missing: run `vite build` first');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium libvulkan1`);
    mkdirSync(SCREENSHOTS, { recursive: true });

    const port = await freePort();
    server = spawn(path.join(ROOT, 'node_modules/.bin/vite'), ['preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout.on('data', (d) => serverLog.push(String(d)));
    server.stderr.on('data', (d) => serverLog.push(String(d)));
    await waitForPort(port, 30_000, server);
    const baseUrl = `http://127.0.0.1:${port}`;

    // launchPersistentContext is Playwright's way to give Chromium a --user-data-dir (a fresh one per run).
    browser = await withTimeout(
      chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
      }),
      60_000,
      'launching chromium',
    );

    for (const c of cases) {
      const page = await browser.newPage();
      const consoleLines = [];
      page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));
      const screenshot = async (name) => {
        await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
      };
      const t0 = Date.now();
      try {
        await withTimeout(c.run({ page, baseUrl, screenshot }), c.timeoutMs ?? CASE_TIMEOUT_MS, c.name);
        passed++;
        console.log(`  ✓ ${c.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        console.log(`  ✗ ${c.name}\n    ${e instanceof Error ? e.message : e}`);
        const shot = path.join(os.tmpdir(), `weblora-failed-${passed + failed}.png`);
        if (await page.screenshot({ path: shot }).then(() => true, () => false)) console.log(`    screenshot of the failure: ${shot}`);
        if (consoleLines.length) console.log('    browser console:\n      ' + consoleLines.slice(-20).join('\n      '));
      } finally {
        await page.close().catch(() => {});
      }
    }
  } catch (e) {
    // Setup failed: every case that did not run counts as failed.
    console.log(`browser tests: ${e instanceof Error ? e.message : e}`);
    if (serverLog.length) console.log('vite preview said:\n' + serverLog.join('').trimEnd());
    failed = cases.length - passed;
  } finally {
    if (browser) await withTimeout(browser.close(), 10_000, 'closing chromium').catch(() => {});
    if (server && server.exitCode === null) server.kill('SIGTERM');
    rmSync(userDataDir, { recursive: true, force: true });
    clearTimeout(overall);
  }
  if (!cases.length) {
    console.log(`browser tests: no case matches "${filter}"`);
    failed = 1;
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
