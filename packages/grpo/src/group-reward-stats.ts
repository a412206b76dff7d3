import * as tf from '@tensorflow/tfjs-core';
import { assertFinite, assertNumberIn } from '@covrl/utils';
import { groupedRewardsLength } from './internal/grouped-rewards.js';

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
 * Means and stds are computed on the backend (reshape to `[N/G, G]`) and read back once; the loop
 * that replaces: `for g: mean_g = Σ r / G; s_g = √(Σ (r − mean_g)² / (G − 1))`. The zero-std
 * count `#{g : s_g ≤ zeroTolerance}` is taken on those read-back stds, in float64, against
 * `zeroTolerance` exactly as given.
 *
 * Source: RLPR (arXiv 2506.18254) std filter input `s_g`; method specification §6.
 *
 * @param x.rewards - `[N]` finite rewards, groups contiguous. `N = 0` (no group) is valid and
 *   gives empty lists and a zero-std fraction of 0.
 * @param x.groupSize - G ≥ 2 dividing N.
 * @param x.zeroTolerance - std at or below this counts as zero; default 1e-8.
 * @returns `groupMeans` and `groupStds` (`[N/G]` each, plain numbers) and `zeroStdGroupFraction`.
 * @throws Error naming `groupRewardStats` and the argument on a non-rank-1 or non-finite
 *   `rewards`, a `groupSize` < 2 or not dividing N, or a negative `zeroTolerance`.
 */
export function groupRewardStats(x: {
  readonly rewards: tf.Tensor;
  readonly groupSize: number;
  readonly zeroTolerance?: number;
}): GroupRewardStats {
  const fn = 'groupRewardStats';
  const n = groupedRewardsLength(fn, x);
  const zeroTolerance = x.zeroTolerance ?? 1e-8;
  assertNumberIn(fn, 'zeroTolerance', zeroTolerance, 0, Number.MAX_VALUE);
  assertFinite(fn, 'rewards', x.rewards);
  const q = n / x.groupSize;
  // No group: nothing to read back (and the mean of an empty tensor is backend-dependent).
  if (q === 0) return { groupMeans: [], groupStds: [], zeroStdGroupFraction: 0 };
  const values = tf.tidy(() => {
    const grouped = tf.reshape(x.rewards, [q, x.groupSize]);
    const means = tf.mean(grouped, 1); // [Q]
    const centered = tf.sub(grouped, tf.expandDims(means, 1));
    const stds = tf.sqrt(tf.div(tf.sum(tf.square(centered), 1), x.groupSize - 1)); // [Q]
    return tf.concat([means, stds]).dataSync();
  });
  const groupMeans = Array.from(values.subarray(0, q));
  const groupStds = Array.from(values.subarray(q));
  // Counted on the host on purpose. This is a reduction over the Q group stds already read back
  // as plain numbers (returned to the caller anyway), not a per-element loop over tensor data. A
  // backend `lessEqual` would round zeroTolerance to float32 and move the boundary by up to an ulp.
  const zero = groupStds.filter((s) => s <= zeroTolerance).length;
  return { groupMeans, groupStds, zeroStdGroupFraction: zero / q };
}
