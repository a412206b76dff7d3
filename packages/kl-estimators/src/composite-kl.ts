import * as tf from '@tensorflow/tfjs-core';
import type { CompositeKlInput } from './internal/composite-inputs.js';
import { COMPOSITE_LOG_CLIP, compositeParts } from './internal/composite-inputs.js';

export type { CompositeKlInput } from './internal/composite-inputs.js';

/**
 * CoVRL's source-dependent ("Bregman") per-token estimator of KL(p′‖p_φ), where the composite is
 * `p′ = w·p_φ + (1−w)·q_ψ` per token:
 *
 * - `log p′ = logAddExp(priorLogProbs + log w, posteriorLogProbs + log(1−w))` (stable, exact at w ∈ {0, 1}),
 * - `log ρ = clip(log p′ − priorLogProbs, −20, 20)`, `ρ = exp(log ρ)`,
 * - `log ω = clip(log p′ − posteriorLogProbs, −20, 20)`, `ω = exp(log ω)`,
 * - prior-sampled rows: `ρ·log ρ − ρ + 1`; posterior-sampled rows: `ω·log ρ + ω − 1`.
 *
 * Both branches are unbiased for KL(p′‖p_φ) under their own sampler for any w. At w = 0.5 both are
 * non-negative (the posterior branch is the prior branch times p_φ/q_ψ); at other weights the
 * posterior branch can be negative (see {@link compositeKlImportanceWeighted} for a variant that
 * is non-negative at every w).
 *
 * Clamps: `ρ ≥ w` and `ω ≥ 1 − w`, so the lower clips never bind; the upper clips bind only where
 * one context gives a token ~e^20 times the probability of the other, keeping `ρ·log ρ` finite.
 * The gradient flows through both log-prob inputs (no stop-gradient).
 *
 * Source: CoVRL (arXiv 2512.12576) §2.3; proof sketch in the method specification §3.2.
 *
 * @param x.priorLogProbs - `[B, T]` log p_φ of the trace tokens in the question-only context.
 * @param x.posteriorLogProbs - `[B, T]` log q_ψ of the same tokens in the answer-shown context.
 * @param x.sampledFromPrior - `[B]`, 1 where the row was sampled from the prior template, else 0.
 * @param x.priorWeight - w in `[0, 1]`, default 0.5.
 * @returns `[B, T]` per-token estimates. No masking: padding positions hold whatever their inputs
 *   give; aggregate with the trace mask.
 * @throws Error naming `compositeKl` and the argument on wrong ranks or shapes, non-finite
 *   log-probs, a non-0/1 `sampledFromPrior`, or `priorWeight` outside [0, 1].
 */
export function compositeKl(x: CompositeKlInput): tf.Tensor {
  return tf.tidy(() => {
    const { logPPrime, logRho, rho, fromPrior } = compositeParts('compositeKl', x); // log p′ once
    const logOmega = tf.clipByValue(
      tf.sub(logPPrime, x.posteriorLogProbs),
      -COMPOSITE_LOG_CLIP,
      COMPOSITE_LOG_CLIP,
    );
    const omega = tf.exp(logOmega);
    const kPrior = tf.add(tf.sub(tf.mul(rho, logRho), rho), 1); // ρ log ρ − ρ + 1
    const kPost = tf.sub(tf.add(tf.mul(omega, logRho), omega), 1); // ω log ρ + ω − 1
    return tf.where(fromPrior, kPrior, kPost);
  });
}
