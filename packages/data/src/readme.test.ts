import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

describe('README', () => {
  it('runs the example as written and prints what the README shows', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const shown = /It prints[^\n]*\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    expect(shown).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'covrl-data-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code ?? '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await import(/* @vite-ignore */ file);
      const printed = log.mock.calls.map((args) => args.map(String).join(' '));
      expect(printed).toEqual((shown ?? '').trimEnd().split('\n'));
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every export of @covrl/data/testing', () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const source = readFileSync(
      fileURLToPath(new URL('./testing/index.ts', import.meta.url)),
      'utf8',
    );
    // `export const X`, `export function X`, `export { A, B }`, `export type { A, B }`.
    const names = [
      ...[...source.matchAll(/^export (?:const|function|type|interface) (\w+)/gm)].map((m) => m[1]),
      ...[...source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((m) =>
        (m[1] ?? '').split(',').map((n) => n.trim()),
      ),
    ].filter((n): n is string => n !== undefined && n !== '');
    expect(names).toEqual(
      expect.arrayContaining(['DEFAULT_TEST_TAGS', 'TINY_EXAMPLES', 'writeSourceParquet']),
    );
    const line = /`@covrl\/data\/testing` exports[\s\S]*?\.\n/.exec(readme)?.[0] ?? '';
    for (const name of names) expect(line, name).toContain(`\`${name}\``);
  });
});
