import * as tf from '@tensorflow/tfjs-core';
import { InputChecks, assertNumber, assertSameShape, assertTensorOfRank } from '@covrl/utils';
import { isRewardForm, rewardFormNames, rewardFormUnit } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';
import { assertArgsObject } from '@covrl/utils';

/** Arguments of {@link applyInvalidRowRule}. */
export interface ApplyInvalidRowRuleArgs {
  /** `[N]` rewards of one batch, rows of a group contiguous (`N = Q·groupSize`). */
  readonly rewards: tf.Tensor;
  /** `[N]` 1 for a valid row, 0 for an invalid one (truncated or not well formed). */
  readonly valid: tf.Tensor;
  /** G: rollouts per question; must divide N. */
  readonly groupSize: number;
  /** The form `rewards` were computed with; decides the rule (log-prob vs probability unit). */
  readonly form: RewardForm;
  /**
   * Log-prob forms only: how far below the worst valid row of its group an invalid row lands, in
   * the reward's own unit (nats, or nats per token for `'log-prob-mean'`). Default 1.0, ≥ 0.
   */
  readonly margin?: number;
}

const functionName = 'applyInvalidRowRule';

/**
 * Scores invalid rows (`truncated ∨ ¬wellFormed`) per group, before `groupAdvantages`
 * (methods.md §3.4, [OURS]):
 *
 * - log-prob forms (`'log-prob-sum'`, `'log-prob-mean'`): `R_i = min{R_j : j valid in the group} −
 *   margin` for an invalid row i. A fixed sentinel such as −1e4 would dominate the group mean and
 *   std; "worst valid minus a margin" ranks invalid rows strictly last on the group's own scale
 *   (for `margin > 0`). If no row of a group is valid every row gets 0, so the group's advantages
 *   are 0.
 * - probability forms (`'prob'`, `'mean-prob'`, `'geo-mean-prob'`): `R_i = 0`, the natural floor
 *   (VeriFree and RLPR reference code do the same).
 * - valid rows keep their reward.
 *
 * Vectorised: rewards are reshaped to `[Q, G]`, the group minimum over valid rows is a masked
 * `min` (invalid entries replaced by +∞), and the result is a `where`. The loop it replaces:
 * `for g: m = min(r[j] for valid j in g); for i in g: out[i] = valid[i] ? r[i] : anyValid ? m −
 * margin : 0` (see `applyInvalidRowRuleToNumbers`, the plain-number version).
 *
 * Shapes: `rewards`, `valid` `[N]` → `[N]` float32. Invalid rows may hold any value (NaN, −∞):
 * they are replaced, never used in arithmetic. Not differentiable in a useful sense (rewards are
 * constants of the loss). Runs inside `tf.tidy`; validation makes one synchronous read.
 *
 * @throws Error naming the function and argument on a shape mismatch, `groupSize` not a positive
 * integer dividing N, `valid` not 0/1, a non-finite reward at a valid row, a negative or non-finite
 * `margin`, or an unknown `form`.
 */
export function applyInvalidRowRule(args: ApplyInvalidRowRuleArgs): tf.Tensor1D {
  assertArgsObject(functionName, args);
  const { rewards, valid, groupSize, form, margin = 1.0 } = args;
  assertTensorOfRank(functionName, 'rewards', rewards, 1, '[N]');
  assertTensorOfRank(functionName, 'valid', valid, 1, '[N]');
  assertSameShape(functionName, 'rewards', rewards, 'valid', valid);
  const total = rewards.shape[0] ?? 0;
  assertNumber(functionName, 'groupSize', groupSize, 'a positive integer', (g) => {
    return Number.isInteger(g) && g >= 1;
  });
  if (total % groupSize !== 0) {
    throw new Error(
      `${functionName}: groupSize ${groupSize} does not divide the batch size N = ${total}; ` +
        'pass rewards for whole groups',
    );
  }
  if (typeof form !== 'string' || !isRewardForm(form)) {
    throw new Error(
      `${functionName}: form '${String(form)}' is unknown; use one of ${rewardFormNames.join(', ')}`,
    );
  }
  assertNumber(functionName, 'margin', margin, 'a finite number ≥ 0', (m) => m >= 0);
  new InputChecks(functionName)
    .binary('valid', valid, 'must hold only 1 (valid) and 0 (invalid)')
    .finite(
      'rewards',
      rewards,
      valid,
      'has a non-finite (NaN or ±∞) value at a valid row; mark that row invalid',
    )
    .run();

  return tf.tidy(() => {
    const r = tf.reshape(tf.cast(rewards, 'float32'), [-1, groupSize]); // [Q, G]
    const isValid = tf.greater(tf.reshape(tf.cast(valid, 'float32'), [-1, groupSize]), 0); // [Q, G]
    const zeros = tf.zerosLike(r);
    if (rewardFormUnit[form] === 'probability') {
      return tf.reshape(tf.where(isValid, r, zeros), [-1]) as tf.Tensor1D;
    }
    const inf = tf.fill(r.shape, Number.POSITIVE_INFINITY);
    const worstValid = tf.min(tf.where(isValid, r, inf), 1, true); // [Q, 1], +∞ if none valid
    const anyValid = tf.any(isValid, 1, true); // [Q, 1]
    // Groups with no valid row: the +∞ minimum is never used, every row is 0.
    const floor = tf.where(anyValid, tf.sub(worstValid, margin), tf.zerosLike(worstValid)); // [Q, 1]
    const out = tf.where(isValid, r, tf.broadcastTo(floor, r.shape)); // [Q, G]
    return tf.reshape(out, [-1]) as tf.Tensor1D;
  });
}
