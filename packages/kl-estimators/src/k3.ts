import * as tf from '@tensorflow/tfjs-core';
import { logRatioOf } from './internal/elementwise.js';
import type { KlEstimatorInput } from './types.js';

/**
 * `k3 = exp(−d) + d − 1 = r − 1 − log r` with `d = logProbs − refLogProbs`, `r = π_ref/π`.
 * Unbiased for KL(π‖π_ref) under π (`E_π[r − 1] = 0`), low variance, non-negative
 * (`log r ≤ r − 1`). As a loss its expected gradient is `∇ KL(π_ref‖π)` (forward KL).
 * No clamping: `exp(−d)` overflows to `Infinity` when `d < −88` in float32; use
 * {@link lowVarKl} for the clipped form.
 *
 * Source: Schulman, "Approximating KL divergence" (2020); verl `kl_penalty('low_var_kl')`
 * without its clips.
 *
 * @param x.logProbs - log π of the sampled tokens, any shape (usually `[B, T]`).
 * @param x.refLogProbs - log π_ref of the same tokens, same shape.
 * @returns Per-token value, same shape as the inputs.
 * @throws Error naming `k3` and the argument on a shape mismatch or NaN input.
 */
export function k3(x: KlEstimatorInput): tf.Tensor {
  return tf.tidy(() => {
    const d = logRatioOf('k3', x);
    return tf.sub(tf.add(tf.exp(tf.neg(d)), d), 1);
  });
}
