import type { LossResult } from './types.js';
import type { PolicyLossBatch, PolicyLossOptions, ReferenceKl } from './internal/ppo-loss.js';
import { policyLoss } from './internal/ppo-loss.js';
import { mergeArgs } from './internal/fields.js';

export type { PolicyBatch, PolicyLossBatch, PolicyLossOptions } from './internal/ppo-loss.js';

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
 * `rlpr.entropyCoef` 0, log-ratio clamp 20. Advantages: `groupAdvantages({ method: 'grpo' })`,
 * precomputed (`advantages`) or computed here from `rewards` with `groupSize` (+ `advantage`,
 * default `'grpo'`, and `advantageEpsilon`, default 1e-6; whole contiguous groups only).
 *
 * Composition: `surrogate`, `aggregation` and `advantage` are names in `@covrl/grpo`'s
 * registries or your own functions; the surrogate gets `{ logRatio, advantages, clipLow,
 * clipHigh, logProbs }`.
 *
 * Shapes: `responseLogProbs`, `oldResponseLogProbs`, `responseMask`, `entropy` `[B, T]`;
 * `advantages` `[B]` or `[B, T]`; `rewards` `[B]`; B ≥ 1. Padding (mask 0) never matters.
 *
 * Call as `rlprLoss(batch, options)` (options may also sit in the first object; reference-KL
 * fields are ignored).
 *
 * Metrics: `loss/total`, `loss/pg`, `ratio/clip_fraction`, `ratio/clip_high_fraction`,
 * `ratio/mean|max|min|max_abs_log`, `loss/entropy` (with entropy), `reward/mean|std` (with rewards).
 *
 * @throws Error naming `rlprLoss` and the field or option on inconsistent shapes, B = 0,
 *   non-finite log-probs at real tokens, non-finite advantages or rewards, both or neither of
 *   `advantages` and `groupSize`, `entropyCoef` > 0 without `entropy`, options out of range or
 *   unknown registry names.
 */
export function rlprLoss(
  batch: PolicyLossBatch & PolicyLossOptions,
  options: PolicyLossOptions = {},
): LossResult {
  const x = mergeArgs('rlprLoss', batch, options);
  // RLPR has no KL term: drop reference-KL fields a caller may have spread in with the batch.
  const {
    refLogProbs: _ref,
    klCoef: _coef,
    klEstimator: _estimator,
    ...rest
  } = x as PolicyLossBatch & PolicyLossOptions & ReferenceKl;
  return policyLoss('rlprLoss', rest);
}
