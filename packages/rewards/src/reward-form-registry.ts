/**
 * The registry of the answer-likelihood reward FUNCTIONS, one per form name (the names and units
 * themselves are in `reward-form-names.ts`), and its lookup `getRewardForm`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { answerLikelihoodReward } from './answer-likelihood-reward.js';
import { rewardFormNames } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';

/** The shared signature of every member of {@link rewardForms}: `[B, A]` in, `[B]` out. */
export type RewardFormFn = (args: {
  readonly answerLogProbs: tf.Tensor;
  readonly answerMask: tf.Tensor;
}) => tf.Tensor1D;

/**
 * Registry of the answer-likelihood reward forms, keyed by {@link RewardForm}; each member is
 * {@link answerLikelihoodReward} with its `form` fixed (same formulas, guards and errors). Extend
 * it by spreading into a new record.
 */
export const rewardForms: Readonly<Record<RewardForm, RewardFormFn>> = Object.freeze({
  'log-prob-sum': (args) => answerLikelihoodReward({ ...args, form: 'log-prob-sum' }),
  'log-prob-mean': (args) => answerLikelihoodReward({ ...args, form: 'log-prob-mean' }),
  prob: (args) => answerLikelihoodReward({ ...args, form: 'prob' }),
  'mean-prob': (args) => answerLikelihoodReward({ ...args, form: 'mean-prob' }),
  'geo-mean-prob': (args) => answerLikelihoodReward({ ...args, form: 'geo-mean-prob' }),
} satisfies Record<RewardForm, RewardFormFn>);

/**
 * Looks a reward form up by name: `Right(fn)` for a known name, otherwise `Left(message)` whose
 * text names the function, the bad name and every valid name.
 */
export function getRewardForm(name: string): Either<string, RewardFormFn> {
  if (Object.prototype.hasOwnProperty.call(rewardForms, name)) {
    return right(rewardForms[name as RewardForm]);
  }
  return left(
    `getRewardForm: unknown reward form '${name}'; valid names: ${rewardFormNames.join(', ')}`,
  );
}
