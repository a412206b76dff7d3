import type * as tf from '@tensorflow/tfjs-core';
import { assertIntegerAtLeast, assertRank, assertTensor, fail } from '@covrl/utils';

/**
 * Checks the shape of `{ rewards: [N], groupSize: G }` (the input of `groupAdvantages` and
 * `groupRewardStats`): an object, `rewards` a rank-1 numeric tensor, G an integer ≥ 2 dividing N.
 * Returns N. No read-back (values are checked by the callers).
 */
export function groupedRewardsLength(
  fn: string,
  x: { readonly rewards: tf.Tensor; readonly groupSize: number },
): number {
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  assertTensor(fn, 'rewards', x.rewards);
  assertRank(fn, 'rewards', x.rewards, 1);
  assertIntegerAtLeast(fn, 'groupSize', x.groupSize, 2);
  const n = x.rewards.shape[0] ?? 0;
  if (n % x.groupSize !== 0) {
    fail(fn, 'groupSize', `${x.groupSize} does not divide the ${n} rewards; pass whole groups`);
  }
  return n;
}
