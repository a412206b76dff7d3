import * as tf from '@tensorflow/tfjs-core';
import type { KlEstimatorInput } from '../types.js';
import { assertNoNaN, assertSameShape, assertTensor } from './validate.js';

/**
 * Validates the two inputs of a per-token estimator and returns `d = logProbs − refLogProbs`
 * (the caller runs inside `tf.tidy`). Infinite inputs are allowed (they give infinite estimates,
 * which is the honest value); NaN is rejected.
 */
export function logRatioOf(fn: string, x: KlEstimatorInput): tf.Tensor {
  if (typeof x !== 'object' || x === null) throw new Error(`${fn}: argument must be an object`);
  assertTensor(fn, 'logProbs', x.logProbs);
  assertTensor(fn, 'refLogProbs', x.refLogProbs);
  assertSameShape(fn, 'logProbs', x.logProbs, 'refLogProbs', x.refLogProbs);
  assertNoNaN(fn, 'logProbs', x.logProbs);
  assertNoNaN(fn, 'refLogProbs', x.refLogProbs);
  return tf.sub(x.logProbs, x.refLogProbs);
}
