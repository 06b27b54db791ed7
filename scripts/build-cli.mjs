// Bundles the Node entry points (CLI, benchmarks) into dist/ with esbuild. Runs on `npm install`
// (the `prepare` script), so `npx weblora` works in a fresh checkout with no other step.
// `.wgsl?raw` imports become strings, exactly as Vite does for the app and the tests.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: path.resolve(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
  },
};

const entries = process.argv.slice(2);
await build({
  entryPoints: entries.length ? entries : ['src/engine/cli.ts', 'bench/bench.ts'].filter((f) => {
    try { return !!import.meta.resolve && require('node:fs').existsSync(f); } catch { return true; }
  }),
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
