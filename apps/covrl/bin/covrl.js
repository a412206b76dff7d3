#!/usr/bin/env node
// Committed launcher so `npm ci` links the `covrl` bin before anything is built.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(
    'covrl: the app is not built yet; run `npm run build` at the repository root first.',
  );
  process.exit(1);
}
await import(cli.href);
