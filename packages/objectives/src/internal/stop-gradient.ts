import * as tf from '@tensorflow/tfjs-core';

/**
 * Identity in the forward pass, zero gradient in the backward pass (TF.js has no stop-gradient
 * op). `x − stopGradient(x)` is exactly 0 for finite `x`, with gradient 1: the log-ratio of an
 * on-policy update whose behaviour log-probs are the current ones, detached.
 */
export const stopGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = inputs[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as (x: tf.Tensor) => tf.Tensor;
