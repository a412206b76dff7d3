import type { LossResult } from './types.js';
import type { PolicyBatch, PolicyLossOptions, ReferenceKl } from './internal/ppo-loss.js';
import { policyLoss } from './internal/ppo-loss.js';

export type { PolicyBatch, PolicyLossOptions } from './internal/ppo-loss.js';

/**
 * RLPR's policy loss (arXiv 2506.18254 reference code; method specification §6): PPO with
 * clip-higher on the model's own sampled response, the reward being the debiased mean answer
 * probability (computed elsewhere, `@covrl/rewards`), no KL:
 * ```text
 * ρ_t = exp(clamp(ℓ_t − ℓ_old,t, ±20))
 * L   = aggregate(surrogate(ρ, A, clipLow 0.2, clipHigh 0.27), responseMask, 'token-mean')
 *       − entropyCoef·aggregate(entropy, responseMask)          (only when entropy is given)
 * ```
 * Defaults: `rlpr.clipLow` 0.2, `rlpr.clipHigh` 0.27, `'token-mean'`, `'ppo-clip'`,
 * `rlpr.entropyCoef` 0, log-ratio clamp 20. Advantages: `groupAdvantages({ method: 'grpo' })`.
 *
 * Call as `rlprLoss(batch, options)` (options may also sit in the first object; reference-KL
 * fields are ignored).
 *
 * Metrics: `loss/total`, `loss/pg`, `ratio/clip_fraction`, `ratio/clip_high_fraction`,
 * `ratio/mean|max|min|max_abs_log`, `loss/entropy` (with entropy), `reward/mean|std` (with rewards).
 *
 * @throws Error naming `rlprLoss` and the field or option on invalid input.
 */
export function rlprLoss(
  batch: PolicyBatch & PolicyLossOptions,
  options: PolicyLossOptions = {},
): LossResult {
  if (typeof batch !== 'object' || batch === null)
    throw new Error(`rlprLoss: batch must be an object`);
  if (typeof options !== 'object' || options === null) {
    throw new Error(`rlprLoss: options must be an object`);
  }
  const x = { ...batch, ...options };
  // RLPR has no KL term: drop reference-KL fields a caller may have spread in with the batch.
  const {
    refLogProbs: _ref,
    klCoef: _coef,
    klEstimator: _estimator,
    ...rest
  } = x as PolicyBatch & PolicyLossOptions & ReferenceKl;
  return policyLoss('rlprLoss', rest);
}
