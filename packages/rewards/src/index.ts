/**
 * @covrl/rewards: answer-likelihood rewards (CoVRL, VeriFree, RLPR), RLPR debiasing, the invalid-row
 * rule, RLPR's format and repetition terms, and rule verifiers for evaluation.
 *
 * @packageDocumentation
 */
export type { RewardForm } from './reward-form-names.js';
export { rewardFormNames, rewardFormUnit, isRewardForm } from './reward-form-names.js';
export type { AnswerLikelihoodRewardArgs } from './answer-likelihood-reward.js';
export { answerLikelihoodReward } from './answer-likelihood-reward.js';
export type { RewardFormFn } from './reward-form-registry.js';
export { rewardForms, getRewardForm } from './reward-form-registry.js';
export type { DebiasedRewardArgs } from './debiased-reward.js';
export { debiasedReward } from './debiased-reward.js';
export type { ApplyInvalidRowRuleArgs } from './apply-invalid-row-rule.js';
export { applyInvalidRowRule } from './apply-invalid-row-rule.js';
export type { ApplyInvalidRowRuleToNumbersArgs } from './apply-invalid-row-rule-to-numbers.js';
export { applyInvalidRowRuleToNumbers } from './apply-invalid-row-rule-to-numbers.js';
export type { RewardTags } from './reward-tags.js';
export { defaultRewardTags } from './reward-tags.js';
export type { FormatRewardArgs } from './format-reward.js';
export { formatReward } from './format-reward.js';
export type { RepetitionPenaltyArgs } from './repetition-penalty.js';
export { repetitionPenalty } from './repetition-penalty.js';
export type { ExtractAnswerArgs } from './verifiers/extract-answer.js';
export { extractAnswer } from './verifiers/extract-answer.js';
export { extractBoxed } from './verifiers/extract-boxed.js';
export { normalizeAnswer } from './verifiers/normalize-answer.js';
export { parseNumericAnswer } from './verifiers/parse-numeric-answer.js';
export { parseRationalAnswer } from './verifiers/parse-rational-answer.js';
export type { ParseChoiceAnswerOptions } from './verifiers/parse-choice-answer.js';
export { parseChoiceAnswer } from './verifiers/parse-choice-answer.js';
export type { Verifier, VerifierArgs, VerifierName } from './verifiers/verifiers.js';
export {
  verifiers,
  verifierNames,
  getVerifier,
  defaultNumericTolerance,
} from './verifiers/verifiers.js';
export type { IsEquivalentOptions } from './verifiers/is-equivalent.js';
export { isEquivalent } from './verifiers/is-equivalent.js';
export type { VerifyAnswerArgs, VerifyAnswerResult } from './verifiers/verify-answer.js';
export { verifyAnswer } from './verifiers/verify-answer.js';
