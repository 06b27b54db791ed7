#!/usr/bin/env node
// `npx weblora …`: the bundled CLI (dist/cli.js is built by `npm install`'s prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('weblora: error: dist/cli.js is missing; run `npm install` (or `node scripts/build-cli.mjs`) first\n');
  process.exit(1);
}
const { runAndExit } = await import(cli.href);
runAndExit(process.argv.slice(2));
