import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// One config for the app (vite build / preview) and the test suite (vitest).
// WGSL sources are imported as text with `?raw`, natively here; scripts/build-cli.mjs does the same for Node.
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022' },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks', // Dawn is a native addon: one process per test file, never shared threads
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
  },
});
