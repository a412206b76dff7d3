/**
 * Group-relative advantages, PPO surrogates, loss aggregation and RLPR's std filter for TF.js:
 * the policy-optimisation pieces every covrl method composes.
 *
 * @packageDocumentation
 */
export { groupAdvantages } from './group-advantages.js';
export type { GroupAdvantagesInput } from './group-advantages.js';
export { advantageMethods } from './advantage-methods.js';
export type {
  AdvantageMethod,
  AdvantageMethodInput,
  AdvantageMethodName,
} from './advantage-methods.js';
export { clippedSurrogate } from './clipped-surrogate.js';
export type { SurrogateInput } from './clipped-surrogate.js';
export { policyGradientSurrogate } from './policy-gradient-surrogate.js';
export { reinforceSurrogate } from './reinforce-surrogate.js';
export { surrogates } from './surrogates.js';
export type { Surrogate, SurrogateName } from './surrogates.js';
export { aggregateLoss } from './aggregate-loss.js';
export type { AggregateLossInput } from './aggregate-loss.js';
export { aggregations } from './aggregations.js';
export type { Aggregation, AggregationInput, AggregationName } from './aggregations.js';
export {
  advantageMethodNames,
  aggregationNames,
  getAdvantageMethod,
  getAggregation,
  getSurrogate,
  surrogateNames,
} from './registry.js';
export { clipFractions } from './clip-fractions.js';
export type { ClipFractions, ClipFractionsInput } from './clip-fractions.js';
export { groupRewardStats } from './group-reward-stats.js';
export type { GroupRewardStats } from './group-reward-stats.js';
export { stdFilterDefaults, stdFilterInit, stdFilterKeep, stdFilterStep } from './std-filter.js';
export type { StdFilterOptions, StdFilterState, StdFilterStepInput } from './std-filter.js';
