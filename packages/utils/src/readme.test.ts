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
    const dir = mkdtempSync(join(tmpdir(), 'covrl-utils-readme-'));
    const file = join(dir, 'example.ts');
    writeFileSync(file, code ?? '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const before = tf.memory().numTensors;
    try {
      await import(/* @vite-ignore */ file);
      expect(tf.memory().numTensors).toBe(before);
      expect(log.mock.calls).toEqual([[Math.fround(-0.5)], ['myLoss', 'logProbs'], [true]]);
      const written = JSON.parse(
        readFileSync(join(tmpdir(), 'covrl-utils-example.json'), 'utf8'),
      ) as { mixed: number[] };
      expect(written.mixed[0]).toBe(-0.5);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
