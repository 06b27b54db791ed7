// Bundles the Node entry points (CLI, benchmarks) into dist/ with esbuild. Runs on `npm install`
// (the `prepare` script), so `npx weblora` works in a fresh checkout with no other step.
// `.wgsl?raw` imports become strings, exactly as Vite does for the app and the tests.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';

const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: path.resolve(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
  },
};

// Default entries: the CLI and every bench/*.ts that exists (each becomes dist/<name>.js).
const defaults = ['src/engine/cli.ts', ...(existsSync('bench') ? readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => `bench/${f}`) : [])];
const entries = process.argv.slice(2).length ? process.argv.slice(2) : defaults.filter((f) => existsSync(f));
if (!entries.length) process.exit(0);
await build({
  // flat names (dist/cli.js, dist/train.js): with entries in several folders esbuild would otherwise mirror them
  entryPoints: entries.map((f) => ({ in: f, out: path.basename(f).replace(/\.ts$/, '') })),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['webgpu'],
  plugins: [rawText],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
