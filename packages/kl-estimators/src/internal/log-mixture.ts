import * as tf from '@tensorflow/tfjs-core';

/**
 * `log(w·exp(a) + (1−w)·exp(b))` elementwise, computed stably as
 * `m + log(exp(a′ − m) + exp(b′ − m))` with `a′ = a + log w`, `b′ = b + log(1−w)`, `m = max(a′, b′)`.
 * Exact at `w = 0` and `w = 1` (returns `b` or `a` unchanged, so no `log 0` enters the graph).
 * The gradient is the exact softmax weight for every input, ties included: the contributions of
 * `m` cancel because the two weights sum to one.
 */
export function logMixture(a: tf.Tensor, b: tf.Tensor, w: number): tf.Tensor {
  // `+ zerosLike(other)` keeps the unused input on the gradient tape with a zero gradient
  // (tf.grads rejects an input the output does not depend on); `x + 0` is exactly `x`.
  if (w === 1) return tf.tidy(() => tf.add(a, tf.zerosLike(b)));
  if (w === 0) return tf.tidy(() => tf.add(b, tf.zerosLike(a)));
  return tf.tidy(() => {
    const aw = tf.add(a, Math.log(w));
    const bw = tf.add(b, Math.log1p(-w));
    const m = tf.maximum(aw, bw);
    return tf.add(m, tf.log(tf.add(tf.exp(tf.sub(aw, m)), tf.exp(tf.sub(bw, m)))));
  });
}
