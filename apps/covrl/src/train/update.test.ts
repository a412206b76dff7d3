/**
 * The non-finite guard of `applyUpdate` runs before the optimizer step: a NaN/Inf loss term,
 * reward, scalar loss or gradient norm throws naming the term and step, and leaves the weights and
 * the optimizer state as they were; a finite update goes through. No tensor leaks either way.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createAdamW, createCausalLM, defaultModelConfig } from '@covrl/models';
import type { CausalLM } from '@covrl/models';
import type { Config } from '../config/schema.js';
import { NonFiniteError } from '../run/log.js';
import { applyUpdate } from './update.js';

const config = { train: { gradClip: 1 } } as unknown as Config;

function tinyModel(): CausalLM {
  return createCausalLM(
    defaultModelConfig('gpt2', {
      vocabSize: 8,
      dModel: 8,
      nLayers: 1,
      nHeads: 2,
      dFf: 8,
      maxContext: 8,
    }),
    { seed: 1 },
  );
}

const snapshot = (m: CausalLM): Record<string, number[]> =>
  Object.fromEntries([...m.variables()].map(([k, v]) => [k, Array.from(v.dataSync())]));

/** A differentiable scalar of the model's weights: Σ w² over every variable. */
const sumSquares = (m: CausalLM): tf.Scalar =>
  tf.addN([...m.variables().values()].map((v) => tf.sum(tf.square(v)))) as tf.Scalar;

describe('applyUpdate non-finite guard', () => {
  const cases: {
    name: string;
    term: string;
    loss: (m: CausalLM) => { loss: tf.Scalar; metrics: Record<string, number> };
  }[] = [
    {
      name: 'a NaN loss term',
      term: 'loss/kl',
      loss: (m) => ({ loss: sumSquares(m), metrics: { 'loss/pg': 1, 'loss/kl': Number.NaN } }),
    },
    {
      name: 'an infinite reward',
      term: 'reward/mean',
      loss: (m) => ({ loss: sumSquares(m), metrics: { 'reward/mean': -Infinity } }),
    },
    {
      name: 'a NaN scalar loss with finite metrics',
      term: 'loss',
      loss: (m) => ({ loss: tf.mul(sumSquares(m), Number.NaN), metrics: { 'loss/pg': 0.5 } }),
    },
    {
      // sqrt at 0 has an infinite derivative: the loss is finite (0), its gradient is not.
      name: 'a finite loss with a non-finite gradient',
      term: 'grad/norm',
      loss: (m) => {
        const w = [...m.variables().values()][0] as tf.Variable;
        const here = tf.tensor(w.dataSync(), w.shape); // a constant equal to w
        return {
          loss: tf.sqrt(tf.sum(tf.square(tf.sub(w, here)))) as tf.Scalar,
          metrics: { 'loss/pg': 0 },
        };
      },
    },
  ];

  it.each(cases)('$name stops before the update, naming $term', ({ term, loss }) => {
    const model = tinyModel();
    const optimizer = createAdamW({ lr: 0.1 });
    const before = tf.memory().numTensors;
    const weights = snapshot(model);
    let error: unknown;
    try {
      applyUpdate({ model, optimizer, lr: 0.1, config, step: 7 }, () => loss(model));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).term).toBe(term);
    expect((error as NonFiniteError).step).toBe(7);
    expect((error as Error).message).toContain(`'${term}' at step 7`);
    expect(snapshot(model)).toEqual(weights);
    expect(optimizer.getState().step).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    model.dispose();
  });

  it('a finite update changes the weights and reports grad/norm', () => {
    const model = tinyModel();
    const optimizer = createAdamW({ lr: 0.1 });
    const weights = snapshot(model);
    const m = applyUpdate({ model, optimizer, lr: 0.1, config, step: 1 }, () => ({
      loss: sumSquares(model),
      metrics: { 'loss/pg': 1 },
    }));
    expect(Number.isFinite(m['grad/norm'])).toBe(true);
    expect(snapshot(model)).not.toEqual(weights);
    const state = optimizer.getState();
    expect(state.step).toBe(1);
    tf.dispose(Object.values(state.tensors));
    optimizer.dispose();
    model.dispose();
  });
});
