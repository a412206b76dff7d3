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
export { covrlLoss } from './covrl.js';
export type { CovrlBatch, CovrlKlEstimator, CovrlLossOptions } from './covrl.js';
export { verifreeLoss } from './verifree.js';
export type { VerifreeBatch, VerifreeLossOptions } from './verifree.js';
export { rlprLoss } from './rlpr.js';
export type { PolicyBatch, PolicyLossBatch, PolicyLossOptions } from './rlpr.js';
export { grpoLoss } from './grpo.js';
export type { ReferenceKl } from './grpo.js';
