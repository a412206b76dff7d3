import * as tf from '@tensorflow/tfjs-core';
import {
  assertFinite,
  assertIntegerAtLeast,
  assertNumberIn,
  assertRank,
  assertTensor,
  fail,
} from './internal/validate.js';

/** Per-group reward statistics, as plain numbers for metrics and the std filter. */
export interface GroupRewardStats {
  /** Mean reward of each group, `[N/G]`. */
  readonly groupMeans: number[];
  /** Unbiased (n−1) standard deviation of each group's rewards, `[N/G]` (RLPR's `s_g`). */
  readonly groupStds: number[];
  /** Fraction of groups whose std is ≤ `zeroTolerance` (`advantage/zero_group_fraction`). */
  readonly zeroStdGroupFraction: number;
}

/**
 * Mean, unbiased standard deviation and the zero-std fraction of contiguous reward groups.
 * A group with std 0 gives every method zero advantages: no learning signal from that prompt.
 * Computed on the backend (reshape to `[N/G, G]`), read back once.
 *
 * Source: RLPR (arXiv 2506.18254) std filter input `s_g`; method specification §6.
 *
 * @param x.rewards - `[N]` finite rewards, groups contiguous.
 * @param x.groupSize - G ≥ 2 dividing N.
 * @param x.zeroTolerance - std at or below this counts as zero; default 1e-8.
 * @throws Error naming `groupRewardStats` and the argument on invalid input.
 */
export function groupRewardStats(x: {
  readonly rewards: tf.Tensor;
  readonly groupSize: number;
  readonly zeroTolerance?: number;
}): GroupRewardStats {
  const fn = 'groupRewardStats';
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  assertTensor(fn, 'rewards', x.rewards);
  assertRank(fn, 'rewards', x.rewards, 1);
  assertIntegerAtLeast(fn, 'groupSize', x.groupSize, 2);
  const n = x.rewards.shape[0] ?? 0;
  if (n % x.groupSize !== 0) {
    fail(fn, 'groupSize', `${x.groupSize} does not divide the ${n} rewards; pass whole groups`);
  }
  const zeroTolerance = x.zeroTolerance ?? 1e-8;
  assertNumberIn(fn, 'zeroTolerance', zeroTolerance, 0, Number.MAX_VALUE);
  assertFinite(fn, 'rewards', x.rewards);
  const q = n / x.groupSize;
  const values = tf.tidy(() => {
    const grouped = tf.reshape(x.rewards, [q, x.groupSize]);
    const means = tf.mean(grouped, 1); // [Q]
    const centered = tf.sub(grouped, tf.expandDims(means, 1));
    const stds = tf.sqrt(tf.div(tf.sum(tf.square(centered), 1), x.groupSize - 1)); // [Q]
    return tf.concat([means, stds]).dataSync();
  });
  const groupMeans = Array.from(values.subarray(0, q));
  const groupStds = Array.from(values.subarray(q));
  const zero = groupStds.filter((s) => s <= zeroTolerance).length;
  return { groupMeans, groupStds, zeroStdGroupFraction: q > 0 ? zero / q : 0 };
}
