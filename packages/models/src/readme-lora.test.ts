import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import * as models from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README LoRA example', () => {
  it('runs as written, trains only adapters and leaks no tensor', async () => {
    const match =
      /<!-- lora-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- lora-example:end -->/.exec(readme);
    if (match?.[1] === undefined) throw new Error('README LoRA example block not found');
    const lines = match[1].split('\n');
    expect(lines.filter((l) => l.startsWith('import '))).toEqual([
      "import * as tf from '@tensorflow/tfjs';",
      "import { computeGradients, createAdamW, createCausalLM, defaultModelConfig } from '@covrl/models';",
    ]);
    const body = lines.filter((l) => !l.startsWith('import ')).join('\n');
    const logged: unknown[][] = [];
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    const run = new AsyncFunction(
      'tf',
      'computeGradients',
      'createAdamW',
      'createCausalLM',
      'defaultModelConfig',
      'console',
      body,
    );
    const before = tf.memory().numTensors;
    await run(
      tf,
      models.computeGradients,
      models.createAdamW,
      models.createCausalLM,
      models.defaultModelConfig,
      {
        log: (...a: unknown[]) => logged.push(a),
      },
    );
    expect(tf.memory().numTensors).toBe(before);
    const [loss, adapterParams, gradCount] = logged[0] as [number, number, number];
    expect(Number.isFinite(loss)).toBe(true);
    // 2 layers × 7 projections, an A and a B each.
    expect(gradCount).toBe(28);
    expect(adapterParams).toBeGreaterThan(0);
  });
});
