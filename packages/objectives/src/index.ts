/**
 * CoVRL, VeriFree, RLPR and GRPO losses as pure compositions of `@covrl/kl-estimators` and
 * `@covrl/grpo` (surrogate, KL estimator, advantage and aggregation, each by name or as your own
 * function): each takes one scored batch (plus options) and returns `{ loss, metrics }`.
 *
 * @packageDocumentation
 */
export type { LossResult } from './types.js';
export type { AdvantageOptions, BatchWithRewards } from './internal/advantages.js';
export { mixtureLogProbs } from './mixture-log-probs.js';
export { covrlImportanceLogRatio } from './covrl-importance-log-ratio.js';
export type { CovrlImportanceLogRatioInput } from './covrl-importance-log-ratio.js';
export { covrlLoss, covrlLossDefaults, covrlLossRanges } from './covrl.js';
export type { CovrlBatch, CovrlKlEstimator, CovrlLossOptions } from './covrl.js';
export {
  verifreeAnswerTermWeights,
  verifreeLoss,
  verifreeLossDefaults,
  verifreeLossRanges,
} from './verifree.js';
export type { VerifreeBatch, VerifreeLossOptions } from './verifree.js';
export { rlprLoss } from './rlpr.js';
export {
  grpoLossDefaults,
  grpoLossRanges,
  rlprLossDefaults,
  rlprLossRanges,
} from './internal/ppo-loss.js';
export type { PolicyBatch, PolicyLossBatch, PolicyLossOptions } from './rlpr.js';
export { grpoLoss } from './grpo.js';
export type { ReferenceKl } from './grpo.js';

// The error every input check of these losses throws for NaN/±Infinity (one class for all
// covrl packages), and the range type of the `*LossRanges` tables.
export { NonFiniteInputError, isNonFiniteInputError } from '@covrl/utils';
export type { NumberRange } from '@covrl/utils';
