#!/usr/bin/env node
// Checks that every publishable package packs only dist/, README.md, LICENSE and package.json,
// that its dist has the files its exports map points at, that no test file is shipped, and that
// every shipped source map is usable: src/ is not packed, so each map must carry the text of the
// sources it names (`inlineSources`) or name only files that are packed.
//
// It also checks the dual build every package follows (see CONTRIBUTING.md, "Tooling"): each
// `exports` subpath has an `import` (ESM, dist/) and a `require` (CommonJS, dist/cjs/) branch,
// each with its own `types`; dist/cjs/package.json says `"type": "commonjs"`; every typing of the
// ESM build has its CommonJS twin; `main`/`types`/`typesVersions` (for `moduleResolution: node`)
// point at packed files; and package.json names its repository directory and homepage.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const allowed = (path) =>
  path === 'package.json' || path === 'README.md' || path === 'LICENSE' || path.startsWith('dist/');
let failures = 0;
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', name);
  if (!existsSync(join(dir, 'package.json'))) continue;
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
    for (const t of leaves(target)) {
      const rel = t.replace(/^\.\//, '');
      if (!files.includes(rel))
        problems.push(`exports['${subpath}'] points at ${rel}, which is not packed`);
    }
  }
  problems.push(...dualBuildProblems(name, pkg, files));
  if (problems.length > 0) {
    failures += 1;
    console.error(`${pkg.name}: ${problems.join('; ')}`);
  } else {
    console.log(`${pkg.name}: ${files.length} files OK`);
  }
}
if (failures > 0) {
  console.error(
    `check-pack: ${failures} package(s) would pack incorrectly; fix their "files" or package.json, or build them first (\`npm run build\`)`,
  );
  process.exit(1);
}

/** Every string at the leaves of an `exports` entry (nested condition objects included). */
function leaves(target) {
  if (typeof target === 'string') return [target];
  if (target === null || typeof target !== 'object') return [];
  return Object.values(target).flatMap(leaves);
}

/** What is wrong with a package's ESM + CommonJS build, as messages naming the field to fix. */
function dualBuildProblems(dirName, pkg, files) {
  const problems = [];
  const packed = (path) => files.includes(path.replace(/^\.\//, ''));
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (subpath === './package.json') continue;
    const esm = target?.import;
    const cjs = target?.require;
    if (typeof esm?.types !== 'string' || typeof esm?.default !== 'string') {
      problems.push(
        `exports['${subpath}'].import needs { types, default } (the ESM build in dist/)`,
      );
    }
    if (typeof cjs?.types !== 'string' || typeof cjs?.default !== 'string') {
      problems.push(
        `exports['${subpath}'].require needs { types, default } (the CommonJS build in dist/cjs/)`,
      );
    } else if (!cjs.default.startsWith('./dist/cjs/') || !cjs.types.startsWith('./dist/cjs/')) {
      problems.push(`exports['${subpath}'].require must point into ./dist/cjs/`);
    }
    if (subpath !== '.') {
      const key = subpath.slice(2);
      const mapped = pkg.typesVersions?.['*']?.[key];
      if (!Array.isArray(mapped) || !mapped.every((p) => packed(p))) {
        problems.push(
          `typesVersions['*']['${key}'] must list the packed typings of '${subpath}' ` +
            `(moduleResolution "node" ignores exports)`,
        );
      }
    }
  }
  for (const field of ['main', 'types']) {
    if (typeof pkg[field] !== 'string' || !packed(pkg[field])) {
      problems.push(`"${field}" must name a packed file (the CommonJS build, for old resolvers)`);
    }
  }
  if (!files.includes('dist/cjs/package.json')) {
    problems.push(
      'dist/cjs/package.json is not packed: the build must end with `node ../../scripts/mark-cjs.mjs`',
    );
  } else {
    const marker = JSON.parse(
      readFileSync(join(root, 'packages', dirName, 'dist/cjs/package.json'), 'utf8'),
    );
    if (marker.type !== 'commonjs')
      problems.push('dist/cjs/package.json must say "type": "commonjs"');
  }
  const typings = files.filter((f) => /\.d\.c?ts$/.test(f));
  const missingTwins = typings
    .filter((f) => !f.startsWith('dist/cjs/'))
    .filter((f) => !typings.includes(f.replace(/^dist\//, 'dist/cjs/')));
  if (missingTwins.length > 0) {
    problems.push(
      `${missingTwins.length} ESM typing(s) without a CommonJS twin in dist/cjs (first: ` +
        `${missingTwins[0]}); a stale dist? delete it and rebuild: \`npm run clean -w ${pkg.name} && npx turbo run build --force\``,
    );
  }
  if (!existsSync(join(root, 'packages', dirName, 'tsconfig.cjs.json'))) {
    problems.push(
      'no tsconfig.cjs.json (`{ "extends": ["./tsconfig.json", "../../tsconfig.cjs.base.json"] }`)',
    );
  }
  if (pkg.repository?.directory !== `packages/${dirName}` || typeof pkg.homepage !== 'string') {
    problems.push(`package.json needs repository.directory "packages/${dirName}" and a homepage`);
  }
  return problems;
}
