import * as tf from '@tensorflow/tfjs-core';
import { logMixture } from '@covrl/utils';
import { assertNoNaN, assertNumberIn, assertSameShape, assertTensor, fail } from '@covrl/utils';

/** Input of {@link covrlImportanceLogRatio}; all `[B, T]`, trace-aligned. */
export interface CovrlImportanceLogRatioInput {
  /** New log p_φ(z_t|x, z_<t) (question-only context), with gradient. */
  readonly priorLogProbs: tf.Tensor;
  /** New log q_ψ(z_t|x, y, z_<t) (answer-shown context), with gradient. */
  readonly posteriorLogProbs: tf.Tensor;
  /** Old (sampling-time, detached) log p_φ of the same tokens. */
  readonly oldPriorLogProbs: tf.Tensor;
  /** Old (sampling-time, detached) log q_ψ of the same tokens. */
  readonly oldPosteriorLogProbs: tf.Tensor;
  /** α, the probability that a row used the prior template, in `[0, 1]`. */
  readonly alpha: number;
  /** w of the composite `p′ = w·p_φ + (1−w)·q_ψ`, in `[0, 1]`; default 0.5. */
  readonly priorWeight?: number;
}

/**
 * CoVRL's per-token importance log-ratio
 * `log p′_new(z_t) − log p_hybrid,old(z_t)`
 * `= mixtureLogProbs(prior, posterior, priorWeight) − mixtureLogProbs(oldPrior, oldPosterior, alpha)`
 * (see {@link mixtureLogProbs}).
 * It corrects for sampling each trajectory from one template (the hybrid `α·p_φ + (1−α)·q_ψ`)
 * while optimising the token-level composite p′ (a biased token-level correction, accepted by
 * the paper for simplicity). At `alpha = priorWeight` and new = old it is exactly 0.
 *
 * No clamp here; `covrlLoss` clamps the result to ±`logRatioClamp` (20) before `exp`.
 *
 * Infinite inputs follow the contract's difference exactly, with {@link mixtureLogProbs}' value
 * for a token both components give probability 0 (−∞, not NaN): both new log-probs −∞ (old
 * finite) give −∞ (ratio 0); both old log-probs −∞ (new finite) give +∞, a token the behaviour
 * hybrid could not have sampled; both pairs −∞ give `−∞ − (−∞) = NaN`, the undefined 0/0, which
 * `aggregateLoss` rejects at real tokens and ignores at padding. The gradient stays finite in all
 * three cases (0 through every −∞ pair).
 *
 * Source: CoVRL (arXiv 2512.12576) §2.3–2.4; method specification §4.
 *
 * @returns `[B, T]`, differentiable w.r.t. `priorLogProbs` and `posteriorLogProbs` (and the old
 *   inputs, which callers pass detached).
 * @throws Error naming `covrlImportanceLogRatio` and the argument on shape mismatches, NaN input
 *   or weights outside [0, 1]. Empty tensors are valid (empty result).
 */
export function covrlImportanceLogRatio(x: CovrlImportanceLogRatioInput): tf.Tensor {
  const fn = 'covrlImportanceLogRatio';
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  const priorWeight = x.priorWeight ?? 0.5;
  assertNumberIn(fn, 'alpha', x.alpha, 0, 1);
  assertNumberIn(fn, 'priorWeight', priorWeight, 0, 1);
  const inputs = [
    ['priorLogProbs', x.priorLogProbs],
    ['posteriorLogProbs', x.posteriorLogProbs],
    ['oldPriorLogProbs', x.oldPriorLogProbs],
    ['oldPosteriorLogProbs', x.oldPosteriorLogProbs],
  ] as const;
  for (const [name, t] of inputs) {
    assertTensor(fn, name, t);
    assertSameShape(fn, 'priorLogProbs', x.priorLogProbs, name, t);
    assertNoNaN(fn, name, t);
  }
  return tf.tidy(() =>
    tf.sub(
      logMixture(x.priorLogProbs, x.posteriorLogProbs, priorWeight), // log p′_new
      logMixture(x.oldPriorLogProbs, x.oldPosteriorLogProbs, x.alpha), // log p_hybrid,old
    ),
  );
}
