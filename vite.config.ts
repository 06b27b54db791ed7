import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// One config for the app (vite build / preview) and the test suite (vitest).
// WGSL sources are imported as text with `?raw`, natively here; scripts/build-cli.mjs does the same for Node.
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // The app goes to dist/app: dist/ itself holds the Node bundles (dist/cli.js) that vite must not wipe.
  build: { target: 'es2022', outDir: 'dist/app' },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks', // Dawn is a native addon: one process per test file, never shared threads
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
  },
});
