import * as tf from '@tensorflow/tfjs-core';
import { logRatioOf } from './internal/elementwise.js';
import type { KlEstimatorInput } from './types.js';

/**
 * `abs = |d|`, `d = logProbs − refLogProbs`: biased upward (`E|d| ≥ E d`), non-negative.
 * As a loss its gradient is `E[sign(d)·∇ log π]`, without a clean interpretation; kept for
 * parity with verl.
 *
 * Source: verl `core_algos.kl_penalty('abs')`.
 *
 * @param x.logProbs - log π of the sampled tokens, any shape (usually `[B, T]`).
 * @param x.refLogProbs - log π_ref of the same tokens, same shape.
 * @returns Per-token value, same shape as the inputs.
 * @throws Error naming `abs` and the argument on a shape mismatch or NaN input.
 */
export function abs(x: KlEstimatorInput): tf.Tensor {
  return tf.tidy(() => tf.abs(logRatioOf('abs', x)));
}
