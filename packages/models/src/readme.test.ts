import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import * as models from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README example between the markers, imports removed (the test supplies those names). */
function exampleBody(): string {
  const match = /<!-- example:start -->\s*```js\n([\s\S]*?)```\s*<!-- example:end -->/.exec(readme);
  if (match?.[1] === undefined) throw new Error('README example block not found');
  const lines = match[1].split('\n');
  expect(lines.filter((line) => line.startsWith('import '))).toEqual([
    "import * as tf from '@tensorflow/tfjs';",
    "import { createCausalLM, defaultModelConfig, computeGradients, createAdamW } from '@covrl/models';",
  ]);
  return lines.filter((line) => !line.startsWith('import ')).join('\n');
}

describe('README example', () => {
  it('runs as written and leaks no tensor', async () => {
    const logged: unknown[][] = [];
    const fakeConsole = { log: (...args: unknown[]) => logged.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const run = new AsyncFunction(
      'tf',
      'createCausalLM',
      'defaultModelConfig',
      'computeGradients',
      'createAdamW',
      'console',
      exampleBody(),
    );
    const before = tf.memory().numTensors;
    await run(
      tf,
      models.createCausalLM,
      models.defaultModelConfig,
      models.computeGradients,
      models.createAdamW,
      fakeConsole,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(logged).toHaveLength(2);
    const [ids, reason] = logged[0] as [number[], string];
    expect(ids.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(reason);
    expect(logged[1]?.[0]).toBe('loss');
    expect(Number.isFinite(logged[1]?.[1])).toBe(true);
  });
});
