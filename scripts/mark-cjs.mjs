#!/usr/bin/env node
// Last step of a package's `build` (run in the package directory, after `tsc -p tsconfig.cjs.json`):
// writes `dist/cjs/package.json` = {"type":"commonjs"}. The package itself is `"type": "module"`,
// so without this marker Node would load dist/cjs/*.js as ES modules and TypeScript would read
// dist/cjs/*.d.ts as ESM typings; with it, both treat the folder as CommonJS.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const cjs = join(process.cwd(), 'dist', 'cjs');
if (!existsSync(join(cjs, 'index.js'))) {
  console.error(
    `mark-cjs: ${join(cjs, 'index.js')} does not exist; run \`tsc -p tsconfig.cjs.json\` in ` +
      `${process.cwd()} first (the package's \`npm run build\` does both)`,
  );
  process.exit(1);
}
writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
