import * as tf from '@tensorflow/tfjs-core';
import { InputChecks, assertSameShape, assertTensorOfRank } from '@covrl/utils';
import { isRewardForm, rewardFormNames } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';
import { assertArgsObject } from '@covrl/utils';

/** Arguments of {@link answerLikelihoodReward}. */
export interface AnswerLikelihoodRewardArgs {
  /**
   * `[B, A]` natural-log probabilities of the reference answer's tokens, teacher-forced after the
   * question and the trace (PRIOR-SCORE or RLPR-SPLICE, methods.md §1). Padded positions may hold
   * any value, NaN included: they never contribute.
   */
  readonly answerLogProbs: tf.Tensor;
  /** `[B, A]` 1 at real answer tokens, 0 at padding (any numeric or bool dtype). */
  readonly answerMask: tf.Tensor;
  /** Which reduction to apply; see the table in {@link answerLikelihoodReward}. */
  readonly form: RewardForm;
  /**
   * Check the values (0/1 mask; no NaN and nothing above 0 at real positions) in one device
   * read-back; default true. `false` skips them (no read-back); shapes and dtypes are still
   * checked.
   */
  readonly validate?: boolean;
}

const functionName = 'answerLikelihoodReward';

/**
 * The model's own likelihood of the reference answer, one reward per row (api.md,
 * `@covrl/rewards`). With `ℓ` the masked answer-token log-probs of a row and `n = Σ m`:
 *
 * | form | value | source |
 * |---|---|---|
 * | `'log-prob-sum'` | `Σ ℓ` | CoVRL default, log p(y\|x,z) (arXiv 2512.12576 §2) |
 * | `'log-prob-mean'` | `Σ ℓ / n` | length-normalised variant (methods.md §3.4) |
 * | `'prob'` | `exp(Σ ℓ)` | VeriFree, π(y\|x,z) (arXiv 2505.21493 §3) |
 * | `'mean-prob'` | `Σ exp(ℓ) / n` | RLPR mean token probability (arXiv 2506.18254 §3) |
 * | `'geo-mean-prob'` | `exp(Σ ℓ / n)` | geometric mean token probability |
 *
 * Shapes: `answerLogProbs`, `answerMask` `[B, A]` → `[B]` float32.
 *
 * Guards and why:
 * - Padding is removed with `where(m > 0, ℓ, 0)`, not `ℓ·m`, so NaN or −∞ at padded positions
 *   cannot leak in (NaN·0 = NaN).
 * - Rows with `n = 0` (empty answer span): the sum forms return the empty sum / product
 *   (`'log-prob-sum'` 0, `'prob'` 1); the mean forms (`'log-prob-mean'`, `'mean-prob'`,
 *   `'geo-mean-prob'`) return 0 because the mean is undefined (the denominator is clamped to 1 and
 *   the row zeroed). Such rows are malformed; the trainer marks them invalid
 *   (`applyInvalidRowRule`).
 * - A real position holding −∞ (a probability that underflowed) is allowed: the log-prob forms give
 *   −∞ and the probability forms 0. NaN at a real position throws.
 *
 * Differentiable with respect to `answerLogProbs` (rewards are normally computed from detached,
 * "old" log-probs, methods.md §3.4). Runs inside `tf.tidy`; validation makes one synchronous read
 * of two boolean scalars.
 *
 * @throws Error naming the function and argument on a shape mismatch, a string tensor, a mask
 * value other than 0/1, a value above 0 at a real answer position, or an unknown `form`;
 * `NonFiniteInputError` (`@covrl/utils`) for NaN at a real answer position.
 */
export function answerLikelihoodReward(args: AnswerLikelihoodRewardArgs): tf.Tensor1D {
  assertArgsObject(functionName, args);
  const { answerLogProbs, answerMask, form } = args;
  assertTensorOfRank(functionName, 'answerLogProbs', answerLogProbs, 2, '[B, A]');
  assertTensorOfRank(functionName, 'answerMask', answerMask, 2, '[B, A]');
  assertSameShape(functionName, 'answerLogProbs', answerLogProbs, 'answerMask', answerMask);
  if (typeof form !== 'string' || !isRewardForm(form)) {
    throw new Error(
      `${functionName}: form '${String(form)}' is unknown; use one of ${rewardFormNames.join(', ')}`,
    );
  }
  new InputChecks(functionName, args.validate ?? true)
    .binary('answerMask', answerMask)
    .noNaN(
      'answerLogProbs',
      answerLogProbs,
      'is NaN at a real (mask = 1) answer position; score the answer again',
      answerMask,
    )
    .atMostZero(
      'answerLogProbs',
      answerLogProbs,
      answerMask,
      'holds values above 0 at a real (mask = 1) answer position; pass log-probabilities (≤ 0), not logits or probabilities',
    )
    .run();

  return tf.tidy(() => {
    const real = tf.greater(tf.cast(answerMask, 'float32'), 0); // [B, A] bool
    const logProbs = tf.cast(answerLogProbs, 'float32');
    const zeros = tf.zerosLike(logProbs);
    const maskedLogProbs = tf.where(real, logProbs, zeros); // [B, A], 0 at padding
    const tokenCount = tf.sum(tf.cast(real, 'float32'), 1); // [B]
    return reducers[form]({ real, maskedLogProbs, tokenCount }) as tf.Tensor1D;
  });
}

/** Per-row pieces every form is built from. */
interface RowParts {
  /** `[B, A]` bool, true at real answer tokens. */
  readonly real: tf.Tensor;
  /** `[B, A]` ℓ at real tokens, 0 at padding. */
  readonly maskedLogProbs: tf.Tensor;
  /** `[B]` n = Σ m. */
  readonly tokenCount: tf.Tensor;
}

/** `[B]` Σ ℓ / n with the denominator clamped to 1, so rows with n = 0 give 0/1 = 0. */
function meanLogProb({ maskedLogProbs, tokenCount }: RowParts): tf.Tensor {
  return tf.div(tf.sum(maskedLogProbs, 1), tf.maximum(tokenCount, 1));
}

/** Zeroes rows with n = 0 (their mean is undefined). */
function zeroEmptyRows(value: tf.Tensor, tokenCount: tf.Tensor): tf.Tensor {
  return tf.where(tf.greater(tokenCount, 0), value, tf.zerosLike(value));
}

/** One reduction per form; `satisfies` makes the record exhaustive over {@link RewardForm}. */
const reducers = {
  'log-prob-sum': ({ maskedLogProbs }) => tf.sum(maskedLogProbs, 1),
  'log-prob-mean': (parts) => zeroEmptyRows(meanLogProb(parts), parts.tokenCount),
  prob: ({ maskedLogProbs }) => tf.exp(tf.sum(maskedLogProbs, 1)),
  'mean-prob': ({ real, maskedLogProbs, tokenCount }) => {
    // exp(0) = 1 at padding, so mask the probabilities themselves, not only ℓ.
    const probs = tf.where(real, tf.exp(maskedLogProbs), tf.zerosLike(maskedLogProbs)); // [B, A]
    return zeroEmptyRows(tf.div(tf.sum(probs, 1), tf.maximum(tokenCount, 1)), tokenCount);
  },
  'geo-mean-prob': (parts) => zeroEmptyRows(tf.exp(meanLogProb(parts)), parts.tokenCount),
} satisfies Record<RewardForm, (parts: RowParts) => tf.Tensor>;
