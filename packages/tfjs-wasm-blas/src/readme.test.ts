import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { disableWasmBlas, enableWasmBlas, wasmBlasStatus } from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The README example between the markers, imports removed (the test supplies those names). */
function exampleBody(): string {
  const match = /<!-- example:start -->\s*```js\n([\s\S]*?)```\s*<!-- example:end -->/.exec(readme);
  if (match?.[1] === undefined) throw new Error('README example block not found');
  const lines = match[1].split('\n');
  const imports = lines.filter((line) => line.startsWith('import '));
  expect(imports).toEqual([
    "import * as tf from '@tensorflow/tfjs';",
    "import '@tensorflow/tfjs-backend-wasm';",
    "import { enableWasmBlas, wasmBlasStatus } from '@covrl/tfjs-wasm-blas';",
  ]);
  return lines.filter((line) => !line.startsWith('import ')).join('\n');
}

describe('README example', () => {
  afterAll(async () => {
    disableWasmBlas();
    await tf.setBackend('cpu');
  });

  it('runs as written and leaks no tensor', async () => {
    const logged: unknown[][] = [];
    const fakeConsole = { log: (...args: unknown[]) => logged.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const run = new AsyncFunction(
      'tf',
      'enableWasmBlas',
      'wasmBlasStatus',
      'console',
      exampleBody(),
    );
    const before = tf.memory().numTensors;
    await run(tf, enableWasmBlas, wasmBlasStatus, fakeConsole);
    expect(tf.memory().numTensors).toBe(before);
    expect(logged).toHaveLength(2);
    const [active, reason] = logged[0]!;
    expect(typeof reason).toBe('string');
    expect(logged[1]!.slice(0, 2)).toEqual([
      [256, 128],
      [128, 64],
    ]);
    expect(logged[1]![2]).toBe(active);
  });
});
