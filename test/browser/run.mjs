// Browser tests: Debian's Chromium, headless, WebGPU on whatever adapter it finds (SwiftShader on a machine
// with no GPU), against the built app served by `vite preview`. Plain Node, no test framework:
//   vite build && node test/browser/run.mjs [case-name-filter]
// Every case gets a fresh page; the last line is always "<n> passed, <m> failed" and the exit code is 1 on
// any failure. Nothing here may hang: each case has its own timeout, the whole run has one, and the server and
// browser are killed in `finally`.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

// ---- cases --------------------------------------------------------------------------------------------------
// Each case: { name, run(ctx) } where ctx = { page, baseUrl, screenshot(name) }. Throw to fail.

/** @type {{ name: string, timeoutMs?: number, run: (ctx: CaseContext) => Promise<void> }[]} */
const CASES = [
  {
    name: 'foundation: the app finds a WebGPU adapter in its engine worker',
    async run({ page, baseUrl, screenshot }) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(baseUrl + '/');
      // Either outcome of the GPU check ends the wait; a missing adapter is a failure with the page's own words.
      const outcome = page.locator('[data-testid="adapter-line"], [data-testid="no-webgpu"], [data-testid="gpu-error"]');
      await outcome.first().waitFor({ timeout: 60_000 });
      const line = page.getByTestId('adapter-line');
      if (!(await line.count())) {
        await screenshot('foundation');
        const text = (await outcome.first().innerText()).replace(/\s+/g, ' ').slice(0, 400);
        throw new Error(`no adapter line; the page says: ${text}`);
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
      // Simulates a browser without WebGPU: navigator.gpu reads as undefined on the page and in its workers' absence.
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
      await screenshot('no-webgpu');
    },
  },
];

// ---- machinery ----------------------------------------------------------------------------------------------

/** @typedef {{ page: import('playwright-core').Page, baseUrl: string, screenshot: (name: string) => Promise<void> }} CaseContext */

function freePort() {
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

function waitForPort(port, ms, server) {
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

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

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
