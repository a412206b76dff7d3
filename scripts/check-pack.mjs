#!/usr/bin/env node
// Checks that every publishable package packs only dist/, README.md, LICENSE and package.json,
// that its dist has the files its exports map points at, that no test file is shipped, and that
// every shipped source map is usable: src/ is not packed, so each map must carry the text of the
// sources it names (`inlineSources`) or name only files that are packed.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const allowed = (path) =>
  path === 'package.json' || path === 'README.md' || path === 'LICENSE' || path.startsWith('dist/');
let failures = 0;
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const files = JSON.parse(out)[0].files.map((f) => f.path);
  const problems = [];
  for (const f of files) {
    if (!allowed(f)) problems.push(`unexpected file ${f}`);
    if (/\.test\.|\.tsbuildinfo$/.test(f)) problems.push(`test or build-info file shipped: ${f}`);
  }
  const blindMaps = [];
  for (const f of files.filter((p) => p.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    (map.sources ?? []).forEach((source, i) => {
      if (typeof map.sourcesContent?.[i] === 'string') return;
      const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', source));
      if (!files.includes(target)) blindMaps.push(`${f} -> ${target}`);
    });
  }
  if (blindMaps.length > 0) {
    problems.push(
      `${blindMaps.length} source map(s) name files that are not packed, without their text ` +
        `(first: ${blindMaps[0]}); maps from an older build? ` +
        `delete dist and rebuild: \`npm run clean -w ${pkg.name} && npx turbo run build --force\``,
    );
  }
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(required)) problems.push(`missing ${required}`);
  }
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const t of targets) {
      const rel = t.replace(/^\.\//, '');
      if (!files.includes(rel))
        problems.push(`exports['${subpath}'] points at ${rel}, which is not packed`);
    }
  }
  if (problems.length > 0) {
    failures += 1;
    console.error(`${pkg.name}: ${problems.join('; ')}`);
  } else {
    console.log(`${pkg.name}: ${files.length} files OK`);
  }
}
if (failures > 0) {
  console.error(
    `check-pack: ${failures} package(s) would pack incorrectly; fix their "files" or build them first`,
  );
  process.exit(1);
}
