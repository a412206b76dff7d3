import * as tf from '@tensorflow/tfjs-core';
import { logRatioOf } from './internal/elementwise.js';
import type { KlEstimatorInput } from './types.js';

/**
 * `k2 = ½·d²`, `d = logProbs − refLogProbs`: biased, non-negative, agrees with KL(π‖π_ref) to
 * second order as π → π_ref. As a loss (samples held fixed) its expected gradient is exactly
 * `∇ KL(π‖π_ref)`, the reverse-KL gradient; hence the default gradient of
 * {@link straightThrough}.
 *
 * Source: Schulman, "Approximating KL divergence" (2020); verl `kl_penalty('mse')`.
 *
 * @param x.logProbs - log π of the sampled tokens, any shape (usually `[B, T]`).
 * @param x.refLogProbs - log π_ref of the same tokens, same shape.
 * @returns Per-token value, same shape as the inputs.
 * @throws Error naming `k2` and the argument on a shape mismatch or NaN input.
 */
export function k2(x: KlEstimatorInput): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.square(logRatioOf('k2', x))));
}
