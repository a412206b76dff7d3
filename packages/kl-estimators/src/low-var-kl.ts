import * as tf from '@tensorflow/tfjs-core';
import { logRatioOf } from './internal/elementwise.js';
import type { KlEstimatorInput } from './types.js';

/**
 * verl's `low_var_kl`: `u = clip(−d, −20, 20)` with `d = logProbs − refLogProbs`, value
 * `clip(exp(u) − u − 1, −10, 10)`. Equal to {@link k3} inside the clips.
 *
 * Clamps: the input clip keeps `exp(u)` finite (float32 overflows near `exp(88)`); the output
 * clip bounds the penalty of one token at 10 nats. The lower output clip never binds because the
 * value is ≥ 0. Where a clip binds the gradient is zero.
 *
 * Source: verl `core_algos.kl_penalty('low_var_kl')`; Schulman (2020).
 *
 * @param x.logProbs - log π of the sampled tokens, any shape (usually `[B, T]`).
 * @param x.refLogProbs - log π_ref of the same tokens, same shape.
 * @returns Per-token value in `[0, 10]`, same shape as the inputs.
 * @throws Error naming `lowVarKl` and the argument on a shape mismatch or NaN input.
 */
export function lowVarKl(x: KlEstimatorInput): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.clipByValue(tf.neg(logRatioOf('lowVarKl', x)), -20, 20);
    return tf.clipByValue(tf.sub(tf.sub(tf.exp(u), u), 1), -10, 10);
  });
}
