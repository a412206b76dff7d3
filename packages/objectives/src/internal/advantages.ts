import * as tf from '@tensorflow/tfjs-core';
import type { AdvantageMethod, AdvantageMethodName } from '@covrl/grpo';
import { advantageMethods, groupAdvantages } from '@covrl/grpo';
import { resolve } from '@covrl/utils';
import { fail, numberInRange } from '@covrl/utils';

/**
 * Options with which a loss computes its advantages itself, from the batch's `rewards`, instead
 * of taking precomputed `advantages`: `A = groupAdvantages({ rewards, groupSize, method:
 * advantage, epsilon: advantageEpsilon })` (`@covrl/grpo`). Setting `groupSize` selects this
 * path; give either precomputed `advantages` or these, never both.
 *
 * The batch must then hold whole groups, contiguous (the G rollouts of a question side by side,
 * B a multiple of G). A mini-batch that splits groups needs advantages precomputed on the whole
 * rollout batch (method specification §4, step 5), so keep passing `advantages` there.
 */
export interface AdvantageOptions {
  /** G, rollouts per question: an integer ≥ 2 dividing B. Setting it computes the advantages. */
  readonly groupSize?: number;
  /**
   * A name from `@covrl/grpo`'s `advantageMethods` (`'grpo'`, `'dr-grpo'`, `'rloo'`) or your own
   * `AdvantageMethod` (`[Q, G]` rewards → `[Q, G]` advantages); default per method (CoVRL
   * `'dr-grpo'`, VeriFree `'rloo'`, RLPR and GRPO `'grpo'`). Only with `groupSize`.
   */
  readonly advantage?: AdvantageMethodName | AdvantageMethod;
  /** ε added to the group std by `'grpo'`; default 1e-6 (verl). Only with `groupSize`. */
  readonly advantageEpsilon?: number;
}

/**
 * A batch `B` whose advantages the loss computes from its `rewards` (required here) with the
 * {@link AdvantageOptions}; `advantages` must be absent.
 */
export type BatchWithRewards<B extends { readonly advantages: tf.Tensor }> = Omit<
  B,
  'advantages' | 'rewards'
> & {
  /** `[B]` rewards of whole, contiguous groups; the advantages are computed from them. */
  readonly rewards: tf.Tensor;
  readonly advantages?: undefined;
};

/** Where a loss's advantages come from, decided (and checked) before any tensor work. */
export type AdvantagePlan =
  | { readonly kind: 'given' }
  | {
      readonly kind: 'computed';
      readonly groupSize: number;
      readonly method: AdvantageMethod;
      readonly epsilon: number;
    };

/**
 * Decides between precomputed `advantages` and computing them from `rewards` (exactly one), and
 * checks the options of the latter. Tensor shapes are checked later, by the loss's field
 * validation and {@link checkGroups}.
 *
 * @throws Error naming `fn` and the argument when both or neither are given, `advantage` or
 *   `advantageEpsilon` come without `groupSize`, `rewards` is missing, `groupSize` is not an
 *   integer ≥ 2, `advantageEpsilon` is negative, or `advantage` names no method.
 */
export function planAdvantages(
  fn: string,
  x: AdvantageOptions & { readonly advantages?: unknown; readonly rewards?: unknown },
  defaultMethod: AdvantageMethodName,
): AdvantagePlan {
  const wantsComputed =
    x.groupSize !== undefined || x.advantage !== undefined || x.advantageEpsilon !== undefined;
  if (x.advantages !== undefined) {
    if (wantsComputed) {
      const given = ['groupSize', 'advantage', 'advantageEpsilon'].filter(
        (k) => x[k as keyof AdvantageOptions] !== undefined,
      );
      fail(
        fn,
        'advantages',
        `is given together with ${given.join(', ')}: pass either precomputed advantages, or rewards + groupSize (+ advantage) to compute them here, not both`,
      );
    }
    return { kind: 'given' };
  }
  if (x.groupSize === undefined) {
    if (wantsComputed) {
      fail(
        fn,
        'groupSize',
        'is required to compute advantages from rewards (advantage / advantageEpsilon was given); pass the rollouts per question, or pass precomputed advantages',
      );
    }
    fail(
      fn,
      'advantages',
      'is required: pass precomputed advantages [B], or rewards [B] + groupSize (+ advantage) to compute them here',
    );
  }
  if (typeof x.groupSize !== 'number' || !Number.isInteger(x.groupSize) || x.groupSize < 2) {
    fail(fn, 'groupSize', `must be an integer ≥ 2, got ${String(x.groupSize)}`);
  }
  if (x.rewards === undefined) {
    fail(fn, 'rewards', 'is required when groupSize is set: the advantages are computed from it');
  }
  return {
    kind: 'computed',
    groupSize: x.groupSize,
    method: resolve(fn, 'advantage', x.advantage ?? defaultMethod, advantageMethods),
    epsilon: numberInRange(fn, 'advantageEpsilon', x.advantageEpsilon ?? 1e-6, {
      min: 0,
      max: Number.MAX_VALUE,
    }),
  };
}

/**
 * After field validation: a computed plan needs B (the rows of `rewards`) to be a multiple of
 * `groupSize`.
 */
export function checkGroups(fn: string, plan: AdvantagePlan, rewards: tf.Tensor | undefined): void {
  if (plan.kind !== 'computed' || rewards === undefined) return;
  const rows = rewards.shape[0] ?? 0;
  if (rows % plan.groupSize !== 0) {
    fail(
      fn,
      'groupSize',
      `${plan.groupSize} does not divide B = ${rows}; the batch must hold whole groups (contiguous) to compute advantages, or pass precomputed advantages`,
    );
  }
}

/**
 * The batch's advantages: the given tensor, or `groupAdvantages` of the rewards (call inside the
 * loss's `tf.tidy`; the computed tensor is detached data, like precomputed advantages).
 *
 * @throws Error naming `fn` and `advantage` when a custom method returns a shape other than
 *   `[Q, G]`, NaN or ±∞.
 */
export function advantagesOf(
  fn: string,
  plan: AdvantagePlan,
  x: { readonly advantages?: tf.Tensor | undefined; readonly rewards?: tf.Tensor | undefined },
  validate = true,
): tf.Tensor {
  if (plan.kind === 'given') return x.advantages as tf.Tensor;
  let advantages: tf.Tensor;
  try {
    advantages = groupAdvantages({
      rewards: x.rewards as tf.Tensor,
      groupSize: plan.groupSize,
      method: plan.method,
      epsilon: plan.epsilon,
      validate: false, // the rewards were checked with the batch
    }); // [B]
  } catch (error) {
    // Inputs were checked above; what is left is a custom method misbehaving (wrong shape).
    const why = error instanceof Error ? error.message : String(error);
    return fail(fn, 'advantage', `could not compute the advantages (${why})`);
  }
  if (!validate) return advantages;
  const finite = tf.all(tf.less(tf.abs(advantages), Infinity)).dataSync()[0];
  if (!finite) {
    fail(
      fn,
      'advantage',
      'returned NaN or ±Infinity advantages (with advantageEpsilon = 0, a constant group gives 0/0 under grpo); check the method and the rewards',
    );
  }
  return advantages;
}
