import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { createCausalLM } from './model.js';
import { computeGradients } from './optim/gradients.js';
import { tinyGpt2Config, tinyLlamaConfig, withWasmCustomGradSaves } from './testing/index.js';

const sequences = [
  [1, 5, 3, 7, 2, 9, 4],
  [4, 4, 8, 0, 11],
];
const spans = {
  answer: [
    { start: 2, length: 5 },
    { start: 1, length: 4 },
  ],
};

async function gradsOf(
  config: ModelConfig,
  recompute: boolean,
  lora: boolean,
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  const model = createCausalLM(config, { seed: 4, activationRecomputation: recompute });
  if (lora) {
    const adapters = model.addLora(
      { r: 2, loraAlpha: 4, targetModules: 'all-linear' },
      { seed: 1 },
    );
    for (const [name, v] of adapters.variables()) {
      if (name.includes('.B')) {
        tf.tidy(() => v.assign(tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 5), 0.1)));
      }
    }
  }
  const { loss, grads } = computeGradients(model, () =>
    tf.tidy(
      () => tf.neg(tf.sum(model.scoreTokens({ sequences, spans }).answer.logProbs)) as tf.Scalar,
    ),
  );
  const out: Record<string, Float32Array> = {};
  for (const [n, g] of Object.entries(grads)) out[n] = (await g.data()) as Float32Array;
  tf.dispose(Object.values(grads));
  model.dispose();
  return { loss, grads: out };
}

describe('activation recomputation', () => {
  it.each([
    ['gpt2', tinyGpt2Config({ initStd: 0.3 }), false],
    ['llama GQA', tinyLlamaConfig({ initStd: 0.3, qkvBias: true }), false],
    ['qwen3 + LoRA', tinyLlamaConfig({ initStd: 0.3, headDim: 6, qkNorm: true }), true],
  ])('%s: same loss and gradients as without', async (_name, config, lora) =>
    withWasmCustomGradSaves(async () => {
      const before = tf.memory().numTensors;
      const plain = await gradsOf(config, false, lora);
      const re = await gradsOf(config, true, lora);
      expect(re.loss).toBeCloseTo(plain.loss, 5);
      expect(Object.keys(re.grads).sort()).toEqual(Object.keys(plain.grads).sort());
      for (const [n, g] of Object.entries(plain.grads)) {
        const h = re.grads[n] as Float32Array;
        const worst = g.reduce((m, v, i) => Math.max(m, Math.abs(v - (h[i] as number))), 0);
        expect(worst, n).toBeLessThan(1e-5);
      }
      expect(tf.memory().numTensors).toBe(before);
    }),
  );

  it('refuses LoRA dropout with recomputation by name', () =>
    withWasmCustomGradSaves(() => {
      const model = createCausalLM(tinyLlamaConfig(), { seed: 0, activationRecomputation: true });
      model.addLora(
        { r: 2, loraAlpha: 2, loraDropout: 0.1, targetModules: ['q_proj'] },
        { seed: 0 },
      );
      model.lora?.setDropout(3);
      expect(() =>
        computeGradients(model, () =>
          tf.tidy(
            () => tf.sum(model.scoreTokens({ sequences, spans }).answer.logProbs) as tf.Scalar,
          ),
        ),
      ).toThrow(/LoRA dropout cannot run with activation recomputation/);
      model.dispose();
    }));
});
