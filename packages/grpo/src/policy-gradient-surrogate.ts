import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { surrogateAdvantages } from './internal/surrogate-input.js';

/**
 * The unclipped policy-gradient surrogate `−A·ρ`, `ρ = exp(logRatio)`, per token. At ρ = 1
 * (on-policy) its gradient is REINFORCE's `−A·∇ log π`. `clipLow`/`clipHigh` are accepted (the
 * shared surrogate signature) and ignored.
 *
 * Source: Williams 1992 (REINFORCE); importance-weighted form as in PPO (arXiv 1707.06347) eq. 6.
 *
 * @param x.logRatio - `[B, T]` log π_new − log π_old (NaN rejected; clamp before calling).
 * @param x.advantages - `[B]` (broadcast over T) or `[B, T]`, finite, detached.
 * @returns `[B, T]` per-token losses (unmasked).
 * @throws Error naming `policyGradientSurrogate` and the argument on invalid input.
 */
export function policyGradientSurrogate(x: SurrogateInput): tf.Tensor {
  return tf.tidy(() => {
    const advantages = surrogateAdvantages('policyGradientSurrogate', x);
    return tf.mul(tf.neg(advantages), tf.exp(x.logRatio));
  });
}
