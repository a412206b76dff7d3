import * as tf from '@tensorflow/tfjs-core';
import type { CompositeKlInput } from './internal/composite-inputs.js';
import { COMPOSITE_LOG_CLIP, compositeParts } from './internal/composite-inputs.js';

/**
 * A weight-general, non-negative variant of {@link compositeKl} (an addition to the public
 * contract): prior-sampled rows use `k_prior = ρ·log ρ − ρ + 1`; posterior-sampled rows use the
 * same estimator importance-weighted from q_ψ back to p_φ, `(p_φ/q_ψ)·k_prior`.
 *
 * Both branches are unbiased for KL(p′‖p_φ) (`E_q[(p/q)·f] = E_p[f]`) and non-negative for every
 * `priorWeight` w, because `k_prior ≥ 0` (convexity of `ρ log ρ − ρ + 1`). At w = 0.5 it equals
 * `compositeKl` exactly in exact arithmetic (spec §3.2, step 4); at other weights it differs by
 * the zero-mean control variate `(2w − 1)(p/q − 1)`.
 *
 * Clamps: `log ρ` and `log(p/q)` are clipped to ±20 so `exp` stays finite in float32.
 *
 * Source: method specification §3.2 (derived) and §8 "Weight-general composite KL"; CoVRL
 * (arXiv 2512.12576) §2.3 for the composite.
 *
 * @param x.priorLogProbs - `[B, T]` log p_φ of the trace tokens in the question-only context.
 * @param x.posteriorLogProbs - `[B, T]` log q_ψ of the same tokens in the answer-shown context.
 * @param x.sampledFromPrior - `[B]`, 1 where the row was sampled from the prior template, else 0.
 * @param x.priorWeight - w in `[0, 1]`, default 0.5.
 * @returns `[B, T]` per-token estimates (unmasked).
 * @throws Error naming `compositeKlImportanceWeighted` and the argument on invalid input.
 */
export function compositeKlImportanceWeighted(x: CompositeKlInput): tf.Tensor {
  return tf.tidy(() => {
    const { logRho, rho, fromPrior } = compositeParts('compositeKlImportanceWeighted', x);
    const kPrior = tf.add(tf.sub(tf.mul(rho, logRho), rho), 1); // ρ log ρ − ρ + 1
    const pOverQ = tf.exp(
      tf.clipByValue(
        tf.sub(x.priorLogProbs, x.posteriorLogProbs),
        -COMPOSITE_LOG_CLIP,
        COMPOSITE_LOG_CLIP,
      ),
    );
    return tf.where(fromPrior, kPrior, tf.mul(pOverQ, kPrior));
  });
}
