import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

describe('README', () => {
  it('runs the example as written', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'covrl-sampler-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code ?? '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const before = tf.memory().numTensors;
    try {
      await import(/* @vite-ignore */ file);
      expect(tf.memory().numTensors).toBe(before);
      const printed = log.mock.calls.map((c) => JSON.stringify(c));
      expect(printed[0]).toContain('0.5');
      expect(printed[0]).toContain('prior: I add.</think> (well formed: true)');
      expect(printed[2]).toBe(
        JSON.stringify([
          [4, 14],
          [4, 2],
        ]),
      );
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
