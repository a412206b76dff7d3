import type * as tf from '@tensorflow/tfjs-core';

/** What every method loss returns. */
export interface LossResult {
  /** The scalar to minimise, differentiable w.r.t. the batch's "new" log-prob tensors. */
  readonly loss: tf.Scalar;
  /**
   * Plain numbers keyed by the specification's metric names (e.g. `loss/pg`,
   * `ratio/clip_fraction`); empty when `computeMetrics` is false.
   */
  readonly metrics: Record<string, number>;
}
