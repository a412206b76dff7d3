import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { surrogateAdvantages } from './internal/surrogate-input.js';
import { assertNumberIn, fail } from '@covrl/utils';

export type { SurrogateInput } from './internal/surrogate-input.js';

/**
 * PPO's clipped surrogate as a per-token loss:
 * `max(−A·ρ, −A·clip(ρ, 1 − clipLow, 1 + clipHigh))` with `ρ = exp(logRatio)` exactly.
 * Asymmetric clipping (clipHigh > clipLow, "clip-higher") is DAPO's (arXiv 2503.14476); RLPR
 * uses 0.2 / 0.27.
 *
 * No clamp on `logRatio` here: callers clamp it to `[−20, 20]` before calling (as verl's policy
 * loss does) so `exp` cannot overflow. The gradient is zero where the clipped branch is active.
 *
 * Source: Schulman et al., PPO (arXiv 1707.06347) eq. 7; verl `core_algos.compute_policy_loss`.
 *
 * @param x.logRatio - `[B, T]` log π_new − log π_old of the sampled tokens (NaN rejected).
 * @param x.advantages - `[B]` (broadcast over T) or `[B, T]`, finite, detached.
 * @param x.clipLow - in `[0, 1)`, default 0.2.
 * @param x.clipHigh - ≥ 0, default `clipLow`.
 * @returns `[B, T]` per-token losses (unmasked; aggregate with the response mask).
 * @throws Error naming `clippedSurrogate` and the argument on shape mismatches, non-finite
 *   advantages, NaN log-ratios or clip values out of range.
 */
export function clippedSurrogate(x: SurrogateInput): tf.Tensor {
  return tf.tidy(() => {
    const advantages = surrogateAdvantages('clippedSurrogate', x); // [B, 1] or [B, T]
    const clipLow = x.clipLow ?? 0.2;
    const clipHigh = x.clipHigh ?? clipLow;
    if (typeof clipLow !== 'number' || !(clipLow >= 0 && clipLow < 1)) {
      fail('clippedSurrogate', 'clipLow', `must be a number in [0, 1), got ${String(clipLow)}`);
    }
    assertNumberIn('clippedSurrogate', 'clipHigh', clipHigh, 0, Number.MAX_VALUE);
    const ratio = tf.exp(x.logRatio); // [B, T]
    const negA = tf.neg(advantages);
    const unclipped = tf.mul(negA, ratio);
    const clipped = tf.mul(negA, tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh));
    return tf.maximum(unclipped, clipped);
  });
}
