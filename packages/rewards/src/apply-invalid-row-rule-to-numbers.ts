import { isRewardForm, rewardFormNames, rewardFormUnit } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';
import { NonFiniteInputError, assertArgsObject } from '@covrl/utils';

/** Arguments of {@link applyInvalidRowRuleToNumbers}. */
export interface ApplyInvalidRowRuleToNumbersArgs {
  /** `N` rewards, rows of a group contiguous. */
  readonly rewards: readonly number[];
  /** `N` validity flags (true/1 valid, false/0 invalid). */
  readonly valid: readonly (boolean | number)[];
  readonly groupSize: number;
  readonly form: RewardForm;
  /** Default 1.0, ≥ 0. */
  readonly margin?: number;
}

const functionName = 'applyInvalidRowRuleToNumbers';

/**
 * Plain-number twin of `applyInvalidRowRule` (same rule, methods.md §3.4) for logging,
 * reports and small host-side batches: log-prob forms give an invalid row `min(valid rewards of its
 * group) − margin` (every row 0 when the group has no valid row); probability forms give it 0.
 *
 * @throws Error naming the function and argument on a length mismatch, a `valid` flag other than true/false/1/0, bad `groupSize`, a
 * non-finite reward at a valid row, a bad `margin` or an unknown `form`.
 */
export function applyInvalidRowRuleToNumbers(args: ApplyInvalidRowRuleToNumbersArgs): number[] {
  assertArgsObject(functionName, args);
  const { rewards, valid, groupSize, form, margin = 1.0 } = args;
  if (rewards.length !== valid.length) {
    throw new Error(
      `${functionName}: valid has length ${valid.length}, must equal rewards length ${rewards.length}`,
    );
  }
  if (!Number.isInteger(groupSize) || groupSize < 1 || rewards.length % groupSize !== 0) {
    throw new Error(
      `${functionName}: groupSize ${groupSize} must be a positive integer dividing N = ${rewards.length}`,
    );
  }
  if (!isRewardForm(form)) {
    throw new Error(
      `${functionName}: form '${String(form)}' is unknown; use one of ${rewardFormNames.join(', ')}`,
    );
  }
  if (!Number.isFinite(margin) || margin < 0) {
    throw new Error(`${functionName}: margin must be a finite number ≥ 0, got ${margin}`);
  }
  const badFlag = valid.findIndex((v) => v !== true && v !== false && v !== 1 && v !== 0);
  if (badFlag >= 0) {
    throw new Error(`${functionName}: valid[${badFlag}] must be true/false or 1/0`);
  }
  const isValid = valid.map((v) => v === true || v === 1);
  const out = new Array<number>(rewards.length);
  for (let start = 0; start < rewards.length; start += groupSize) {
    let worst = Number.POSITIVE_INFINITY;
    for (let i = start; i < start + groupSize; i += 1) {
      const r = rewards[i] as number;
      if (!isValid[i]) continue;
      if (!Number.isFinite(r)) {
        throw new NonFiniteInputError(
          functionName,
          `rewards[${i}]`,
          `= ${r} is not finite at a valid row; mark that row invalid`,
        );
      }
      worst = Math.min(worst, r);
    }
    const anyValid = worst !== Number.POSITIVE_INFINITY;
    const invalidValue = rewardFormUnit[form] === 'probability' || !anyValid ? 0 : worst - margin;
    for (let i = start; i < start + groupSize; i += 1) {
      out[i] = isValid[i] ? (rewards[i] as number) : invalidValue;
    }
  }
  return out;
}
