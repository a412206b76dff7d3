import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests import sibling packages by name; map those names to their sources so `npm test` needs no
// build step. `@covrl/<pkg>/testing` resolves to that package's fakes.
const alias = [
  {
    find: /^@covrl\/([a-z0-9-]+)\/testing$/,
    replacement: `${root}packages/$1/src/testing/index.ts`,
  },
  // @covrl/utils' subpaths: Node-only atomic file writes, and the TF.js-free seeded RNG.
  { find: /^@covrl\/utils\/node$/, replacement: `${root}packages/utils/src/node/index.ts` },
  { find: /^@covrl\/utils\/rng$/, replacement: `${root}packages/utils/src/rng.ts` },
  { find: /^@covrl\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
];

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
