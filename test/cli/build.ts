// Bundles src/engine/cli.ts for a test file into its own folder under dist/ (as scripts/build-cli.mjs does, same
// esbuild options), so test files running in parallel never spawn a dist/cli.js another one is rewriting.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(__dirname, '../..');

const rawText = {
  name: 'raw-text',
  setup(b: any) {
    b.onResolve({ filter: /\?raw$/ }, (a: any) => ({ path: path.resolve(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (a: any) => ({ contents: await readFile(a.path, 'utf8'), loader: 'text' }));
  },
};

/** Builds dist/test-<tag>-<pid>/cli.js (inside the repo, so `webgpu` resolves from node_modules); returns its path. */
export async function buildCli(tag: string): Promise<{ cli: string; cleanup: () => void }> {
  const outdir = path.join(root, 'dist', `test-${tag}-${process.pid}`);
  await build({
    entryPoints: [path.join(root, 'src/engine/cli.ts')],
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    plugins: [rawText],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  return { cli: path.join(outdir, 'cli.js'), cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}
