import * as tf from '@tensorflow/tfjs-core';
import { k2 } from './k2.js';
import type { KlEstimator, KlEstimatorInput } from './types.js';

/** Identity in the forward pass, zero gradient in the backward pass. */
const stopGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * `|x| < ∞` as a boolean tensor, recorded on the gradient tape as one node with a zero gradient:
 * TF.js has no gradient for comparison ops, and `tf.where`'s gradient reaches its condition.
 */
const isFiniteNoGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor;
  return { value: tf.less(tf.abs(x), Infinity), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * A {@link KlEstimator} whose forward value is `value`'s and whose gradient is `grad`'s:
 * `out = sg(value(x)) + (grad(x) − sg(grad(x)))` with `sg` a stop-gradient. The bracket is exactly
 * 0 in floating point for finite `grad(x)` (`g − g = 0`), so the value equals `value(x)` bit for
 * bit; where `grad(x)` is not finite the bracket is replaced by 0 (guard against `∞ − ∞ = NaN`
 * in the value). The gradient there is whatever `grad`'s own gradient is (possibly non-finite).
 *
 * Built on `tf.customGrad` (the stop-gradient `sg` is a custom-gradient identity): TF.js cannot
 * run `tf.grads` inside a custom gradient function, so the backward pass of `grad` is obtained by
 * letting `grad(x)` itself sit on the tape with its value cancelled.
 *
 * verl's `k1+` and `k3+` are `straightThrough(k1)` and `straightThrough(k3)`: log the unbiased
 * value, descend the reverse-KL gradient of {@link k2}.
 *
 * Source: verl `core_algos.kl_penalty` ("+" variants); spec §3.2.
 *
 * @param value - estimator providing the forward value.
 * @param grad - estimator providing the gradient (default {@link k2}).
 * @returns A per-token estimator with the same input shapes and output shape as `value`.
 * @throws Error naming `straightThrough` when `value` or `grad` is not a function, or when the two
 *   estimators return different shapes.
 */
export function straightThrough(value: KlEstimator, grad: KlEstimator = k2): KlEstimator {
  if (typeof value !== 'function') {
    throw new Error('straightThrough: value must be a KlEstimator function');
  }
  if (typeof grad !== 'function') {
    throw new Error('straightThrough: grad must be a KlEstimator function');
  }
  return (x: KlEstimatorInput): tf.Tensor =>
    tf.tidy(() => {
      const v = value(x);
      const g = grad(x);
      if (v.shape.length !== g.shape.length || v.shape.some((d, i) => d !== g.shape[i])) {
        throw new Error(
          `straightThrough: grad returned shape [${g.shape.join(', ')}] but value returned [${v.shape.join(', ')}]`,
        );
      }
      const bracket = tf.sub(g, stopGradient(g));
      const finite = isFiniteNoGradient(g);
      return tf.add(stopGradient(v), tf.where(finite, bracket, tf.zerosLike(bracket)));
    });
}
