import * as tf from '@tensorflow/tfjs-core';
import { disableWasmFusedKernels, enableWasmFusedKernels } from '@covrl/tfjs-wasm-blas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { hasFusedKernel } from './fused.js';
import { createCausalLM } from './model.js';
import { computeGradients, createAdamW } from './optim/index.js';
import { tinyGpt2Config, tinyLlamaConfig, withWasmCustomGradSaves } from './testing/index.js';

// The model's norms, activations and AdamW run the fused kernels of @covrl/tfjs-wasm-blas when the
// backend registers them: everything must match the plain-op path (AdamW bit for bit).

// The eos id of each config ends some, not all, of the sampled rows (checked in the test).
const configs: [string, ModelConfig, number][] = [
  ['gpt2', tinyGpt2Config({ initStd: 0.3, dModel: 36 }), 4],
  ['llama GQA qkvBias', tinyLlamaConfig({ initStd: 0.3, qkvBias: true }), 12],
];

const sequences = [
  [1, 5, 9, 2, 7, 3, 3, 8, 1, 0, 4],
  [2, 2, 6, 1, 9, 5, 0, 7, 7, 3, 1],
];
const spans = { all: sequences.map(() => ({ start: 1, length: sequences[0]!.length - 1 })) };

interface Run {
  logits: Float32Array;
  loss: number;
  grads: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
  generated: number[][];
  logProbs: number[];
  reasons: string[];
}

async function runModel(config: ModelConfig, eosId: number): Promise<Run> {
  const model = createCausalLM(config, { seed: 3 });
  const logits = tf.tidy(() => model.logits({ ids: sequences }).dataSync() as Float32Array);
  // Left-padded prompts, sampling, and an eos that ends rows early (finished rows leave the
  // cache): the in-place KV cache must give what the concat path gives.
  const rows = await model.generate({
    prompts: [[1], [4, 2, 7], [3, 3], [9], [6, 6, 6, 1]],
    maxNewTokens: 9,
    temperature: 0.9,
    eosId,
    seeds: [0, 1, 2, 3, 4],
    returnLogProbs: true,
  });
  const greedy = await model.generate({
    prompts: [[1], [4, 2]],
    maxNewTokens: 5,
    temperature: 0,
    seeds: [0, 1],
  });
  const { loss, grads } = await withWasmCustomGradSaves(() =>
    computeGradients(model, () =>
      tf.tidy(() => {
        const { logProbs, mask } = model.scoreTokens({ sequences, spans }).all;
        return tf.div(tf.neg(tf.sum(logProbs)), tf.sum(mask)) as tf.Scalar;
      }),
    ),
  );
  const gradValues = Object.fromEntries(
    Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array]),
  );
  const optimizer = createAdamW({ lr: 1e-2, beta2: 0.95, weightDecay: 0.1 });
  for (let i = 0; i < 3; i++) optimizer.step(grads, model.variables());
  tf.dispose(Object.values(grads));
  const params = Object.fromEntries(
    [...model.variables()].map(([k, v]) => [k, v.dataSync() as Float32Array]),
  );
  optimizer.dispose();
  model.dispose();
  return {
    logits,
    loss,
    grads: gradValues,
    params,
    generated: [...rows, ...greedy].map((r) => [...r.ids]),
    logProbs: rows.flatMap((r) => r.logProbs ?? []),
    reasons: rows.map((r) => r.finishReason),
  };
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-6;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

let previous: string;
beforeAll(async () => {
  previous = tf.getBackend();
  await tf.setBackend('wasm');
});
afterAll(async () => {
  disableWasmFusedKernels();
  await tf.setBackend(previous);
});

describe.each(configs)('fused kernels in a %s model', (_name, config, eosId) => {
  it('give the plain-op logits, loss, gradients and generated text (in-place KV cache)', async () => {
    disableWasmFusedKernels();
    expect(hasFusedKernel('CovrlLayerNorm')).toBe(false);
    const plain = await runModel(config, eosId);
    expect(enableWasmFusedKernels().active).toBe(true);
    expect(hasFusedKernel('CovrlLayerNorm')).toBe(true);
    const before = tf.memory().numTensors;
    const fused = await runModel(config, eosId);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxRelative(fused.logits, plain.logits)).toBeLessThan(1e-5);
    expect(fused.loss).toBeCloseTo(plain.loss, 5);
    // Relative to the largest gradient entry of the model: the key-bias gradient is 0 in exact
    // arithmetic (softmax is shift-invariant), so its own scale is rounding noise.
    const scale = Math.max(...Object.values(plain.grads).map((g) => Math.max(...g.map(Math.abs))));
    for (const name of Object.keys(plain.grads)) {
      const a = fused.grads[name]!;
      const b = plain.grads[name]!;
      const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
      expect(worst / scale, name).toBeLessThan(1e-5);
    }
    expect(fused.generated).toEqual(plain.generated);
    expect(fused.reasons).toEqual(plain.reasons);
    expect(fused.reasons).toContain('eos'); // a row left the cache mid-generation
    expect(fused.reasons).toContain('length');
    fused.logProbs.forEach((lp, i) => expect(lp).toBeCloseTo(plain.logProbs[i]!, 4));
  });

  it('AdamW through CovrlAdamW is bit-identical to the 13-op update', async () => {
    const model = createCausalLM(config, { seed: 4 });
    const grads = tf.tidy(() =>
      Object.fromEntries(
        [...model.variables()].map(([k, v], i) => [
          k,
          tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', i), 0.1),
        ]),
      ),
    );
    const results: Record<string, Float32Array>[] = [];
    for (const fused of [false, true]) {
      if (fused) enableWasmFusedKernels();
      else disableWasmFusedKernels();
      const copy = createCausalLM(config, { seed: 4 });
      const optimizer = createAdamW({ lr: 3e-3, beta2: 0.95, weightDecay: 0.1 });
      for (let i = 0; i < 4; i++) optimizer.step(grads, copy.variables(), { lr: 3e-3 * (i + 1) });
      const state = optimizer.getState();
      results.push({
        ...Object.fromEntries(
          [...copy.variables()].map(([k, v]) => [k, v.dataSync() as Float32Array]),
        ),
        ...Object.fromEntries(
          Object.entries(state.tensors).map(([k, v]) => [k, v.dataSync() as Float32Array]),
        ),
      });
      tf.dispose(Object.values(state.tensors));
      optimizer.dispose();
      copy.dispose();
    }
    expect(Object.keys(results[1]!)).toEqual(Object.keys(results[0]!));
    for (const key of Object.keys(results[0]!)) {
      expect(Array.from(results[1]![key]!), key).toEqual(Array.from(results[0]![key]!));
    }
    tf.dispose(Object.values(grads));
    model.dispose();
  });
});

describe('COVRL_FUSED=0', () => {
  it('makes the model ignore registered fused kernels', () => {
    enableWasmFusedKernels();
    expect(hasFusedKernel('CovrlAdamW')).toBe(true);
    process.env['COVRL_FUSED'] = '0';
    try {
      expect(hasFusedKernel('CovrlAdamW')).toBe(false);
    } finally {
      delete process.env['COVRL_FUSED'];
    }
  });
});
