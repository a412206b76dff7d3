import * as tf from '@tensorflow/tfjs-core';
import type { KlEstimatorInput } from '../types.js';
import { InputChecks, assertSameShape, assertTensor } from '@covrl/utils';

/**
 * Validates the two inputs of a per-token estimator and returns `d = logProbs − refLogProbs`
 * (the caller runs inside `tf.tidy`). Infinite inputs are allowed (they give infinite estimates,
 * which is the honest value); NaN is rejected with a `NonFiniteInputError` (both inputs checked in
 * one device read-back, none with `validate: false`).
 */
export function logRatioOf(fn: string, x: KlEstimatorInput): tf.Tensor {
  if (typeof x !== 'object' || x === null) throw new Error(`${fn}: argument must be an object`);
  assertTensor(fn, 'logProbs', x.logProbs);
  assertTensor(fn, 'refLogProbs', x.refLogProbs);
  assertSameShape(fn, 'logProbs', x.logProbs, 'refLogProbs', x.refLogProbs);
  const nan = 'contains NaN; pass finite values';
  new InputChecks(fn, x.validate ?? true)
    .noNaN('logProbs', x.logProbs, nan)
    .noNaN('refLogProbs', x.refLogProbs, nan)
    .run();
  return tf.sub(x.logProbs, x.refLogProbs);
}
