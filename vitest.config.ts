import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests import sibling packages by name; map those names to their sources so `npm test` needs no
// build step. Every subpath in a package's `exports` (`.`, `./testing`, `./node`, ...) maps to the
// source its ESM target is built from (`./dist/<path>.js` -> `src/<path>.ts`), so a new package or
// subpath needs no edit here.
const alias = readdirSync(join(root, 'packages'))
  .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
  .flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
      name: string;
      exports?: Record<string, unknown>;
    };
    return Object.entries(pkg.exports ?? {}).flatMap(([subpath, target]) => {
      const js = esmTarget(target);
      if (js === undefined || !js.startsWith('./dist/') || !js.endsWith('.js')) return [];
      const source = `${root}packages/${dir}/src/${js.slice('./dist/'.length, -'.js'.length)}.ts`;
      const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      return [{ find: new RegExp(`^${name.replace(/[/.]/g, '\\$&')}$`), replacement: source }];
    });
  });

/** The ESM file of an `exports` entry: a string, `import`/`default` (nested conditions too). */
function esmTarget(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null) return undefined;
  const conditions = target as Record<string, unknown>;
  return esmTarget(conditions['import'] ?? conditions['default']);
}

const shared = {
  resolve: { alias },
  test: {
    setupFiles: [`${root}test-support/tf-setup.ts`],
    environment: 'node' as const,
    pool: 'forks' as const,
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: {
          ...shared.test,
          name: 'fast',
          include: [
            'packages/*/src/**/*.test.ts',
            'apps/*/src/**/*.test.ts',
            'benchmarks/src/**/*.test.ts',
            'docs/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: ['**/*.slow.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 60_000,
        },
      },
      {
        ...shared,
        test: {
          ...shared.test,
          name: 'slow',
          include: [
            'packages/*/src/**/*.slow.test.ts',
            'apps/*/src/**/*.slow.test.ts',
            'benchmarks/src/**/*.slow.test.ts',
          ],
          testTimeout: 600_000,
        },
      },
    ],
  },
});
