import * as tf from '@tensorflow/tfjs-core';

/**
 * `where(a = b, a − lse, 0)` with a zero gradient for every input: the correction that makes
 * {@link logMixture} exact on ties. TF.js has no gradient for `equal`, so the comparison sits
 * inside a custom gradient.
 */
const tieCorrection = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, lse] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor];
  return {
    value: tf.where(tf.equal(a, b), tf.sub(a, lse), tf.zerosLike(lse)),
    gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy), tf.zerosLike(dy), tf.zerosLike(dy)],
  };
}) as (a: tf.Tensor, b: tf.Tensor, lse: tf.Tensor) => tf.Tensor;

/**
 * `log(w·exp(a) + (1−w)·exp(b))` elementwise, computed stably as
 * `m + log(exp(a′ − m) + exp(b′ − m))` with `a′ = a + log w`, `b′ = b + log(1−w)`, `m = max(a′, b′)`.
 * Exact at `w = 0` and `w = 1` (returns `b` or `a` unchanged, so no `log 0` enters the graph).
 * The gradient is the exact softmax weight for every input, ties included: the contributions of
 * `m` cancel because the two weights sum to one.
 *
 * Exact on ties: where `a = b` the mixture is `a` itself, but the float32 round trip
 * `(a + log w) + log(1/w)` can miss it by an ulp, and then the composite estimators read
 * `ρ = 1 ± ε` and give about `2ε ≈ 2.4e-7` instead of 0 when the two contexts agree. There the
 * value is corrected to `a` (`lse + (a − lse)`, exact since `a − lse` is exact for values this
 * close) with the softmax gradient unchanged; elsewhere the correction is `+ 0`, so values are the
 * unguarded formula's bit for bit.
 *
 * No guard for `m = −∞` (both inputs −∞, where the shift gives `−∞ − (−∞) = NaN`): every caller
 * here (`compositeKl`, `compositeKlImportanceWeighted`) first rejects non-finite log-probs.
 * `@covrl/objectives`' public `mixtureLogProbs` accepts −∞ and carries that guard.
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
    const lse = tf.add(m, tf.log(tf.add(tf.exp(tf.sub(aw, m)), tf.exp(tf.sub(bw, m)))));
    return tf.add(lse, tieCorrection(a, b, lse));
  });
}
