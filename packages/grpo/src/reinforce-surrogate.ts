import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { surrogateAdvantages, surrogateLogProbs } from './internal/surrogate-input.js';

/**
 * The REINFORCE (log-derivative) surrogate as a per-token loss: `−A·logProbs`, with `logProbs`
 * the new log π of the sampled tokens. Its gradient is `−A·∇log π_new` at every ratio: the
 * on-policy policy gradient, with no importance weight and no clip. `'pg'` (`−A·ρ`) has the same
 * gradient only at ρ = 1 and another value (`−A` there, not `−A·log π`); summed over a trace this
 * surrogate's value is `−A·log π(z|x)`, VeriFree's REINFORCE term.
 *
 * `logRatio` is validated (the registry's shared signature) but not used; `clipLow`/`clipHigh`
 * are ignored.
 *
 * Source: Williams 1992 (REINFORCE); VeriFree (arXiv 2505.21493) eq. 5 and reference code (the
 * trace term `−A·Σ_t log π(z_t)`); method specification §5.
 *
 * @param x.logProbs - `[B, T]` new log π of the sampled tokens, shaped like `logRatio`, no NaN.
 * @param x.logRatio - `[B, T]` (checked for shape and NaN only).
 * @param x.advantages - `[B]` (broadcast over T) or `[B, T]`, finite, detached.
 * @returns `[B, T]` per-token losses (unmasked; aggregate with the response mask).
 * @throws Error naming `reinforceSurrogate` and the argument when `logProbs` is missing or shaped
 *   unlike `logRatio`, on NaN log-probs or log-ratios, or on non-finite or mis-shaped advantages.
 */
export function reinforceSurrogate(x: SurrogateInput): tf.Tensor {
  return tf.tidy(() => {
    const advantages = surrogateAdvantages('reinforceSurrogate', x); // [B, 1] or [B, T]
    const logProbs = surrogateLogProbs('reinforceSurrogate', x); // [B, T]
    return tf.mul(tf.neg(advantages), logProbs);
  });
}
