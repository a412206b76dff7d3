import * as tf from '@tensorflow/tfjs-core';
import type { AdvantageMethod, AdvantageMethodName } from './advantage-methods.js';
import { advantageMethods } from './advantage-methods.js';
import { resolve } from '@covrl/utils';
import { groupedRewardsLength } from './internal/grouped-rewards.js';
import { asFloat32, assertFinite, assertNumberIn, fail } from '@covrl/utils';

/** Input of {@link groupAdvantages}. */
export interface GroupAdvantagesInput {
  /** `[N]` rewards; the G rollouts of one prompt are contiguous. Must be finite. */
  readonly rewards: tf.Tensor;
  /** G, rollouts per prompt: an integer ≥ 2 dividing N. */
  readonly groupSize: number;
  /** A name from {@link advantageMethods} or your own {@link AdvantageMethod}; default `'grpo'`. */
  readonly method?: AdvantageMethodName | AdvantageMethod;
  /** Added to the group std by `'grpo'`; default 1e-6 (verl). */
  readonly epsilon?: number;
  /** Check that `rewards` is finite (one device read-back); default true. `false` skips it. */
  readonly validate?: boolean;
}

/**
 * Group-relative advantages of contiguous groups of G rollouts:
 * - `'grpo'`: `(r − mean_g) / (std_g + ε)`, unbiased (n−1) std (verl `core_algos`);
 * - `'dr-grpo'`: `r − mean_g` (Dr. GRPO, arXiv 2503.20783);
 * - `'rloo'`: `r − mean of the other G−1 rewards` `= G/(G−1)·(r − mean_g)` (VeriFree, arXiv 2505.21493).
 *
 * Vectorised as a reshape to `[N/G, G]`; the readable loop it replaces:
 * `for g in groups: for i in g: A[i] = (r[i] − mean(g)) / (std(g) + ε)`.
 *
 * @param x.rewards - `[N]` finite rewards, groups contiguous. `N = 0` (no group; `0 % G = 0`) is
 *   valid and gives an empty `[0]` result.
 * @param x.groupSize - G ≥ 2, must divide N.
 * @param x.method - method name or function (`[Q, G]` → `[Q, G]`); default `'grpo'`.
 * @param x.epsilon - default 1e-6, must be ≥ 0 (with 0, `'grpo'` gives 0/0 = NaN on a constant
 *   group: keep it positive).
 * @returns `[N]` advantages; each group sums to 0 (up to rounding).
 * @throws Error naming `groupAdvantages` and the argument on a non-rank-1 or non-finite `rewards`,
 *   a `groupSize` < 2 or not dividing N, a negative `epsilon`, an unknown `method`, or a method
 *   function that returns a shape other than `[Q, G]`.
 */
export function groupAdvantages(x: GroupAdvantagesInput): tf.Tensor {
  const fn = 'groupAdvantages';
  const n = groupedRewardsLength(fn, x);
  const epsilon = x.epsilon ?? 1e-6;
  assertNumberIn(fn, 'epsilon', epsilon, 0, Number.MAX_VALUE);
  if (x.validate ?? true) assertFinite(fn, 'rewards', x.rewards);
  const method = resolve(fn, 'method', x.method ?? 'grpo', advantageMethods);
  return tf.tidy(() => {
    const grouped = tf.reshape(asFloat32(x.rewards), [n / x.groupSize, x.groupSize]); // [Q, G]
    const advantages = method({ groupedRewards: grouped, epsilon });
    const [q, g] = grouped.shape;
    if (advantages.rank !== 2 || advantages.shape[0] !== q || advantages.shape[1] !== g) {
      fail(
        fn,
        'method',
        `returned shape [${advantages.shape.join(', ')}] but must return [${q}, ${g}] (one advantage per grouped reward)`,
      );
    }
    return tf.reshape(advantages, [n]);
  });
}
