import * as tf from '@tensorflow/tfjs-core';
import { logRatioOf } from './internal/elementwise.js';
import type { KlEstimatorInput } from './types.js';

/**
 * `k1 = d = logProbs − refLogProbs`: the naive unbiased estimator of KL(π‖π_ref) for tokens
 * sampled from π (`E_π[d] = KL`). High variance and often negative per token; as a loss its
 * expected gradient is `E_π[∇ log π] = 0` (no signal in expectation).
 *
 * Source: Schulman, "Approximating KL divergence" (2020); verl `core_algos.kl_penalty('kl')`.
 *
 * @param x.logProbs - log π of the sampled tokens, any shape (usually `[B, T]`).
 * @param x.refLogProbs - log π_ref of the same tokens, same shape.
 * @returns Per-token estimate, same shape as the inputs. No masking: aggregate with a mask.
 * @throws Error naming `k1` and the argument on a shape mismatch or NaN input.
 */
export function k1(x: KlEstimatorInput): tf.Tensor {
  return tf.tidy(() => logRatioOf('k1', x));
}
