import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';

describe('README', () => {
  it('runs the example as written and prints what its comments say', async () => {
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'covrl-rewards-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code ?? '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const before = tf.memory().numTensors;
    try {
      await import(/* @vite-ignore */ file);
      expect(tf.memory().numTensors).toBe(before);
      const printed = log.mock.calls.map((c) => c[0] as unknown);
      expect(printed[0]).toEqual([-0.3, -1.8, -6, -5]);
      expect(printed[1]).toEqual([0.426, 0.1, 0, 0]);
      expect(printed[2]).toEqual({ extracted: '42', correct: true, formatValid: true });
      // The comments in the README state the same values.
      expect(code).toContain('// [-0.3, -1.8, -6, -5]');
      expect(code).toContain('// [0.426, 0.1, 0, 0]');
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
