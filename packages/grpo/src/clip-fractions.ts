import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { surrogateAdvantages } from './internal/surrogate-input.js';
import {
  InputChecks,
  asFloat32,
  assertNumberIn,
  assertSameShape,
  assertTensor,
} from '@covrl/utils';

/** Input of {@link clipFractions}. */
export interface ClipFractionsInput extends SurrogateInput {
  /** `[B, T]`, 1 at real tokens, 0 at padding. */
  readonly mask: tf.Tensor;
}

/** Fractions of real tokens where PPO's clip is active. */
export interface ClipFractions {
  /** `ratio/clip_fraction`: `A > 0 ∧ ρ > 1 + clipHigh` or `A < 0 ∧ ρ < 1 − clipLow`. */
  readonly clipFraction: number;
  /** `ratio/clip_high_fraction`: `A > 0 ∧ ρ > 1 + clipHigh` only (the clip-higher side). */
  readonly clipHighFraction: number;
}

/**
 * Metric helper: the mask-weighted fraction of tokens where the clipped branch of
 * `clippedSurrogate` is active (its gradient is zero there), and the fraction clipped on the
 * upper side. Reads two numbers back; use for logging, never inside a loss.
 *
 * Source: method specification §3.3 (clipped-token rule); verl `pg_clipfrac`.
 *
 * @param x.logRatio - `[B, T]`; `ρ = exp(logRatio)`.
 * @param x.advantages - `[B]` or `[B, T]`.
 * @param x.mask - `[B, T]` real-token mask.
 * @param x.clipLow - default 0.2; `x.clipHigh` default `clipLow`.
 * @returns Both fractions in `[0, 1]`; 0 when the mask holds no real token.
 * @throws Error naming `clipFractions` and the argument on invalid input.
 */
export function clipFractions(x: ClipFractionsInput): ClipFractions {
  const values = tf.tidy(() => {
    const checks = new InputChecks('clipFractions', x.validate ?? true);
    const advantages = surrogateAdvantages('clipFractions', x, 'logRatio', checks);
    assertTensor('clipFractions', 'mask', x.mask);
    assertSameShape('clipFractions', 'logRatio', x.logRatio, 'mask', x.mask);
    checks.mask('mask', x.mask).run(); // one read-back for every value check
    const mask = asFloat32(x.mask);
    const clipLow = x.clipLow ?? 0.2;
    const clipHigh = x.clipHigh ?? clipLow;
    assertNumberIn('clipFractions', 'clipLow', clipLow, 0, 1);
    assertNumberIn('clipFractions', 'clipHigh', clipHigh, 0, Number.MAX_VALUE);
    const ratio = tf.exp(x.logRatio); // [B, T]
    const high = tf.logicalAnd(tf.greater(advantages, 0), tf.greater(ratio, 1 + clipHigh));
    const low = tf.logicalAnd(tf.less(advantages, 0), tf.less(ratio, 1 - clipLow));
    const weight = (b: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.cast(b, 'float32'), mask));
    const total = tf.sum(mask);
    return tf.stack([weight(tf.logicalOr(high, low)), weight(high), total]).dataSync();
  });
  const [clipped = 0, high = 0, total = 0] = values;
  return total > 0
    ? { clipFraction: clipped / total, clipHighFraction: high / total }
    : { clipFraction: 0, clipHighFraction: 0 };
}
