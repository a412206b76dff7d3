import type * as tf from '@tensorflow/tfjs-core';

/** The names of the built-in per-token estimators in {@link klEstimators}. */
export type KlEstimatorName = 'k1' | 'abs' | 'k2' | 'k3' | 'lowVarKl';

/** Input of every {@link KlEstimator}: log-probabilities of the same sampled tokens. */
export interface KlEstimatorInput {
  /** log π(z_t | ·) of the sampled tokens under the sampling policy π; any shape, usually `[B, T]`. */
  readonly logProbs: tf.Tensor;
  /** log π_ref(z_t | ·) of the same tokens under the reference policy; same shape as `logProbs`. */
  readonly refLogProbs: tf.Tensor;
  /**
   * Check the values (no NaN) in one device read-back; default true. `false` skips it (no
   * read-back). Your own estimators may ignore it.
   */
  readonly validate?: boolean;
}

/**
 * A per-token estimate of KL(π‖π_ref) for tokens sampled from π, same shape as its inputs.
 * Each output element must depend only on the same element of its inputs (per-token).
 */
export type KlEstimator = (x: KlEstimatorInput) => tf.Tensor;
