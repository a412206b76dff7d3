import * as tf from '@tensorflow/tfjs-core';

/** Names of the built-in advantage methods in {@link advantageMethods}. */
export type AdvantageMethodName = 'grpo' | 'dr-grpo' | 'rloo';

/** Input of every {@link AdvantageMethod}. */
export interface AdvantageMethodInput {
  /** `[Q, G]` rewards, one row per prompt (group), G ≥ 2 rollouts each. */
  readonly groupedRewards: tf.Tensor;
  /** Added to the group std before dividing (used by `'grpo'`; others ignore it). */
  readonly epsilon: number;
}

/** Maps grouped rewards `[Q, G]` to advantages `[Q, G]`. Called by `groupAdvantages` after validation. */
export type AdvantageMethod = (x: AdvantageMethodInput) => tf.Tensor;

/** `r − mean_g`, `[Q, G]` (inside the caller's tidy). */
function centered(groupedRewards: tf.Tensor): tf.Tensor {
  return tf.sub(groupedRewards, tf.mean(groupedRewards, 1, true));
}

/**
 * `'grpo'`: `(r − mean_g) / (std_g + ε)` with the unbiased (n−1) standard deviation. A constant
 * group gives 0 (ε keeps the division finite). Source: verl `core_algos.compute_grpo_outcome_advantage`.
 */
function grpo(x: AdvantageMethodInput): tf.Tensor {
  return tf.tidy(() => {
    const c = centered(x.groupedRewards); // [Q, G]
    const g = x.groupedRewards.shape[1] ?? 2;
    const std = tf.sqrt(tf.div(tf.sum(tf.square(c), 1, true), g - 1)); // [Q, 1]
    return tf.div(c, tf.add(std, x.epsilon));
  });
}

/** `'dr-grpo'`: `r − mean_g` (Dr. GRPO, arXiv 2503.20783: no std normalisation). */
function drGrpo(x: AdvantageMethodInput): tf.Tensor {
  return tf.tidy(() => centered(x.groupedRewards));
}

/**
 * `'rloo'`: `r − mean of the other G−1 rewards` `= G/(G−1)·(r − mean_g)`.
 * Source: VeriFree reference code (arXiv 2505.21493); Ahmadian et al. 2024 (RLOO).
 */
function rloo(x: AdvantageMethodInput): tf.Tensor {
  return tf.tidy(() => {
    const g = x.groupedRewards.shape[1] ?? 2;
    return tf.mul(g / (g - 1), centered(x.groupedRewards));
  });
}

/** The built-in advantage methods by name, frozen; extend by spreading into a new record. */
export const advantageMethods = Object.freeze({
  grpo,
  'dr-grpo': drGrpo,
  rloo,
}) satisfies Readonly<Record<AdvantageMethodName, AdvantageMethod>>;
