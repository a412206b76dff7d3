import * as tf from '@tensorflow/tfjs-core';
import { fail } from './errors.js';

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
 * The log of a two-component mixture, elementwise:
 *
 *   `log(w·exp(a) + (1−w)·exp(b))`
 *
 * computed stably as `m + log(exp(a′ − m) + exp(b′ − m))` with `a′ = a + log w`,
 * `b′ = b + log(1−w)`, `m = max(a′, b′)` (the log-sum-exp shift). Used for CoVRL's
 * `log p′ = log(α·p_φ + (1−α)·q_ψ)` (spec/methods.md, "CoVRL"). `a` and `b` are float32 tensors of
 * one shape (any rank); the result has that shape. The gradient is the exact softmax weight for
 * every input, ties included: the contributions of `m` cancel because the two weights sum to one.
 *
 * Guards, each with its reason:
 * - `w` must be a finite number in `[0, 1]` (a mixture weight); anything else throws naming
 *   `logMixture: weight`.
 * - `w = 1` and `w = 0` are exact: `a` (or `b`) is returned unchanged, so no `log 0 = −∞` enters
 *   the graph. `+ zerosLike(other)` keeps the unused input on the gradient tape with a zero
 *   gradient (tf.grads rejects an input the output does not depend on); `x + 0` is exactly `x`.
 * - Max-shift guard: where `m = ±∞` the shift would compute `∞ − ∞ = NaN` (for `m = −∞`: both
 *   inputs −∞, a token neither component can produce). There the result is `m` itself (`−∞`, or
 *   `+∞` when an input is `+∞`) with a zero gradient, and the stable formula runs on zeros
 *   instead so its unused branch cannot feed NaN into the backward pass (`log 0` has gradient
 *   `1/0`).
 * - Exact on ties: where `a = b` the mixture is `a` itself, but the float32 round trip
 *   `(a + log w) + log(1/w)` can miss it by an ulp, and then the composite KL estimators read
 *   `ρ = 1 ± ε` and give about `2ε ≈ 2.4e-7` instead of 0 when the two contexts agree. There the
 *   value is corrected to `a` (`lse + (a − lse)`, exact since `a − lse` is exact for values this
 *   close) with the softmax gradient unchanged.
 *
 * Where `m` is finite and `a ≠ b` every operation is the unguarded formula's (the corrections add
 * `+ 0`), so those values are the plain formula's bit for bit. NaN inputs propagate as NaN.
 */
export function logMixture(a: tf.Tensor, b: tf.Tensor, w: number): tf.Tensor {
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 1) {
    fail('logMixture', 'weight', `must be a finite number in [0, 1], got ${String(w)}`);
  }
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
    const exact = tf.add(lse, tieCorrection(a, b, lse));
    // ±∞ as constants (no gradient: no signal where no component can produce the token);
    // greaterEqual, like isInf, has a registered zero gradient.
    const signedInfinity = tf.where(
      tf.greaterEqual(m, 0),
      tf.fill(m.shape, Infinity),
      tf.fill(m.shape, -Infinity),
    );
    return tf.where(infinite, signedInfinity, exact);
  });
}
