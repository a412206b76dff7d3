/**
 * Robust loss inputs: masks and flags of any numeric or bool dtype (cast once, same numbers),
 * named errors for string tensors and log-probs above 0, NonFiniteInputError for NaN/±Infinity,
 * one value read-back per call, and none with `validate: false` (and `computeMetrics: false`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { covrlLoss } from './covrl.js';
import { grpoLoss } from './grpo.js';
import { NonFiniteInputError } from './index.js';
import { rlprLoss } from './rlpr.js';
import { verifreeLoss } from './verifree.js';
import {
  disposeBatch,
  randomCovrlBatch,
  randomPolicyBatch,
  randomVerifreeBatch,
} from './testing/index.js';

let before: number;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

const shape = { batchSize: 4, traceLength: 5, answerLength: 3, seed: 7 };

/** `batch` with the named fields recast to `dtype` (values are 0/1). */
function recast<T extends object>(
  batch: T,
  names: readonly (keyof T)[],
  dtype: 'int32' | 'bool',
): T {
  const out = { ...batch };
  for (const name of names) out[name] = tf.cast(batch[name] as tf.Tensor, dtype) as T[keyof T];
  return out;
}

type AnyLoss = (b: never, o?: object) => { loss: tf.Scalar; metrics: Record<string, number> };

const cases: readonly {
  name: string;
  loss: AnyLoss;
  make: () => object;
  masks: readonly string[];
  logProbs: string;
}[] = [
  {
    name: 'covrlLoss',
    loss: covrlLoss as unknown as AnyLoss,
    make: () => randomCovrlBatch(shape),
    masks: ['traceMask', 'answerMask', 'sampledFromPrior', 'truncated', 'wellFormed'],
    logProbs: 'priorLogProbs',
  },
  {
    name: 'verifreeLoss',
    loss: verifreeLoss as unknown as AnyLoss,
    make: () => randomVerifreeBatch(shape),
    masks: ['traceMask', 'answerMask'],
    logProbs: 'answerLogProbs',
  },
  {
    name: 'rlprLoss',
    loss: rlprLoss as unknown as AnyLoss,
    make: () => {
      const { refLogProbs, entropy, ...b } = randomPolicyBatch(shape);
      tf.dispose([refLogProbs, entropy]);
      return b;
    },
    masks: ['responseMask'],
    logProbs: 'responseLogProbs',
  },
  {
    name: 'grpoLoss',
    loss: grpoLoss as unknown as AnyLoss,
    make: () => randomPolicyBatch(shape),
    masks: ['responseMask'],
    logProbs: 'refLogProbs',
  },
];

describe.each(cases)('$name inputs', ({ name, loss, make, masks, logProbs }) => {
  const options = name === 'grpoLoss' ? { klCoef: 0.1 } : {};

  it('accepts int32 and bool masks and flags with the float32 numbers (metrics included)', () => {
    const batch = make() as Record<string, tf.Tensor>;
    const want = loss(batch as never, options);
    for (const dtype of ['int32', 'bool'] as const) {
      const cast = recast(batch, masks, dtype);
      const got = loss(cast as never, options);
      expect(got.loss.dataSync()[0]).toBe(want.loss.dataSync()[0]);
      expect(got.metrics).toEqual(want.metrics);
      got.loss.dispose();
      tf.dispose(masks.map((m) => cast[m]!));
    }
    want.loss.dispose();
    disposeBatch(batch);
  });

  it('names a string tensor and log-probs above 0 (function and argument)', () => {
    const batch = make() as Record<string, tf.Tensor>;
    const strings = tf.tensor(
      Array.from({ length: batch[masks[0]!]!.size }, () => 'x'),
      batch[masks[0]!]!.shape,
      'string',
    );
    expect(() => loss({ ...batch, [masks[0]!]: strings } as never, options)).toThrow(
      `${name}: ${masks[0]} must hold numbers (float32, int32 or bool) but has dtype 'string'`,
    );
    const positive = tf.tidy(() => tf.add(tf.abs(batch[logProbs]!), 0.5));
    expect(() => loss({ ...batch, [logProbs]: positive } as never, options)).toThrow(
      new RegExp(`^${name}: ${logProbs} holds values above 0 at real tokens`),
    );
    tf.dispose([strings, positive]);
    disposeBatch(batch);
  });

  it('throws NonFiniteInputError naming function and argument for NaN or ±Infinity', () => {
    const batch = make() as Record<string, tf.Tensor>;
    const nan = tf.fill(batch[logProbs]!.shape, Number.NaN);
    let caught: unknown;
    try {
      loss({ ...batch, [logProbs]: nan } as never, options);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteInputError);
    expect((caught as NonFiniteInputError).fn).toBe(name);
    expect((caught as NonFiniteInputError).argument).toBe(logProbs);
    nan.dispose();
    disposeBatch(batch);
  });

  it('reads back once to validate, and nothing with validate: false and no metrics', () => {
    const batch = make() as Record<string, tf.Tensor>;
    const spy = vi.spyOn(tf.engine(), 'readSync');
    loss(batch as never, { ...options, computeMetrics: false }).loss.dispose();
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockClear();
    const off = loss(batch as never, { ...options, computeMetrics: false, validate: false });
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    const on = loss(batch as never, { ...options, computeMetrics: false });
    expect(off.loss.dataSync()[0]).toBe(on.loss.dataSync()[0]);
    tf.dispose([off.loss, on.loss]);
    disposeBatch(batch);
  });
});
