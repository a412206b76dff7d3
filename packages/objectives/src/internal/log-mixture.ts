import * as tf from '@tensorflow/tfjs-core';

/**
 * `log(w·exp(a) + (1−w)·exp(b))` elementwise, computed stably as
 * `m + log(exp(a′ − m) + exp(b′ − m))` with `a′ = a + log w`, `b′ = b + log(1−w)`, `m = max(a′, b′)`.
 * Exact at `w = 0` and `w = 1` (returns `b` or `a` unchanged, so no `log 0` enters the graph).
 * The gradient is the exact softmax weight for every input, ties included: the contributions of
 * `m` cancel because the two weights sum to one.
 *
 * Max-shift guard: where `m = ±∞` the shift would compute `∞ − ∞ = NaN` (for `m = −∞`: both
 * inputs −∞, a token neither component can produce). There the result is `m` itself (`−∞`, or
 * `+∞` when an input is `+∞`) with a zero gradient, and the stable formula runs on zeros instead
 * so its unused branch cannot feed NaN into the backward pass (`log 0` has gradient `1/0`).
 * Where `m` is finite every operation is the unguarded one, so those values are unchanged bit for
 * bit.
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
    // isInf, unlike the comparison ops, has a (zero) gradient, so it may sit on the tape.
    const infinite = tf.isInf(m);
    const zeros = tf.zerosLike(m);
    const [as, bs, ms] = [aw, bw, m].map((t) => tf.where(infinite, zeros, t)) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
    const lse = tf.add(ms, tf.log(tf.add(tf.exp(tf.sub(as, ms)), tf.exp(tf.sub(bs, ms)))));
    // ±∞ as constants (no gradient: no signal where no component can produce the token);
    // greaterEqual, like isInf, has a registered zero gradient.
    const signedInfinity = tf.where(
      tf.greaterEqual(m, 0),
      tf.fill(m.shape, Infinity),
      tf.fill(m.shape, -Infinity),
    );
    return tf.where(infinite, signedInfinity, lse);
  });
}
