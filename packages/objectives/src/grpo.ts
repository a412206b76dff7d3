import type { LossResult } from './types.js';
import type { PolicyLossBatch, PolicyLossOptions, ReferenceKl } from './internal/ppo-loss.js';
import { policyLoss } from './internal/ppo-loss.js';
import { mergeArgs } from './internal/fields.js';

export type { ReferenceKl } from './internal/ppo-loss.js';

/**
 * The verifier GRPO reference loss (method specification §6): identical to `rlprLoss` (PPO
 * clip 0.2 / 0.27, token-mean, log-ratio clamp 20) so that RLPR vs GRPO isolates the reward,
 * plus an optional KL to a frozen reference:
 * ```text
 * L = aggregate(ppo-clip(ρ, A), mask) − entropyCoef·aggregate(H, mask)
 *     + klCoef·aggregate(klEstimator(ℓ, ℓ_ref), mask)            (lowVarKl; only with refLogProbs)
 * ```
 * Defaults: `grpo.clipLow` 0.2, `grpo.clipHigh` 0.27, `grpo.klCoef` 0 (verl uses 0.001 with
 * `lowVarKl` when enabled), `klEstimator` `'lowVarKl'`. With `refLogProbs` and `klCoef` 0 the KL
 * is only logged (`loss/kl`, `kl/mean`).
 *
 * Advantages: precomputed (`advantages`), or computed here from `rewards` with `groupSize`
 * (+ `advantage`, default `'grpo'`; whole contiguous groups only). `surrogate`, `aggregation`,
 * `advantage` and `klEstimator` take a registry name or your own function.
 *
 * Shapes: as `rlprLoss`, plus `refLogProbs` `[B, T]`.
 *
 * Call as `grpoLoss(batch, options)`; `refLogProbs` belongs to the batch.
 *
 * @throws Error naming `grpoLoss` and the field or option on invalid input, including
 *   `klCoef` > 0 without `refLogProbs`, B = 0, and both or neither of `advantages` and
 *   `groupSize`.
 */
export function grpoLoss(
  batch: PolicyLossBatch & PolicyLossOptions & ReferenceKl,
  options: PolicyLossOptions & Omit<ReferenceKl, 'refLogProbs'> = {},
): LossResult {
  return policyLoss('grpoLoss', mergeArgs('grpoLoss', batch, options));
}
