import * as tf from '@tensorflow/tfjs-core';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { surrogateAdvantages } from './internal/surrogate-input.js';

/**
 * The REINFORCE (log-derivative) surrogate as a per-token loss: `−A·logProbs`, with `logProbs`
 * the new log π of the sampled tokens. Its gradient is `−A·∇log π_new` at every ratio: the
 * on-policy policy gradient, with no importance weight and no clip. `'pg'` (`−A·ρ`) has the same
 * gradient only at ρ = 1 and another value (`−A` there, not `−A·log π`); summed over a trace this
 * surrogate's value is `−A·log π(z|x)`, VeriFree's REINFORCE term.
 *
 * `logRatio` is part of the registry's shared signature but is neither used nor read (not even
 * checked), so a caller that builds it lazily never pays for it and a NaN in it cannot matter;
 * `logProbs` fixes B and T. `clipLow`/`clipHigh` are ignored.
 *
 * Source: Williams 1992 (REINFORCE); VeriFree (arXiv 2505.21493) eq. 5 and reference code (the
 * trace term `−A·Σ_t log π(z_t)`); method specification §5.
 *
 * @param x.logProbs - `[B, T]` new log π of the sampled tokens, no NaN (required).
 * @param x.logRatio - not read.
 * @param x.advantages - `[B]` (broadcast over T) or `[B, T]`, finite, detached.
 * @returns `[B, T]` per-token losses (unmasked; aggregate with the response mask).
 * @throws Error naming `reinforceSurrogate` and the argument when `logProbs` is missing, not of
 *   rank 2 or holds NaN, or on non-finite advantages or advantages not `[B]` or `[B, T]` of it.
 */
export function reinforceSurrogate(x: SurrogateInput): tf.Tensor {
  return tf.tidy(() => {
    const advantages = surrogateAdvantages('reinforceSurrogate', x, 'logProbs'); // [B, 1] or [B, T]
    return tf.mul(tf.neg(advantages), x.logProbs as tf.Tensor); // logProbs checked above: [B, T]
  });
}
