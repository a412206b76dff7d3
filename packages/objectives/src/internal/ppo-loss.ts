import * as tf from '@tensorflow/tfjs-core';
import type { Aggregation, AggregationName, Surrogate, SurrogateName } from '@covrl/grpo';
import { aggregations, clipFractions, surrogates } from '@covrl/grpo';
import type { KlEstimator, KlEstimatorName } from '@covrl/kl-estimators';
import { klEstimators } from '@covrl/kl-estimators';
import type { AdvantageOptions, BatchWithRewards } from './advantages.js';
import { advantagesOf, checkGroups, planAdvantages } from './advantages.js';
import { float32Fields, validateFields } from './fields.js';
import { maskedMax, maskedMean, maskedMin, readScalars, zeroPadding } from './masked.js';
import type { NumberRange } from '@covrl/utils';
import { ppoRanges } from './ranges.js';
import { numberInRange, resolve } from '@covrl/utils';
import type { LossResult } from '../types.js';

/** The scored batch of `rlprLoss` and `grpoLoss` (method specification §6). */
export interface PolicyBatch {
  /** `[B, T]` new log π of the sampled response tokens, FULL-SAMPLE context (gradient). */
  readonly responseLogProbs: tf.Tensor;
  /** `[B, T]` old (sampling-time, detached) log π of the same tokens. */
  readonly oldResponseLogProbs: tf.Tensor;
  /** `[B, T]` 1 at generated response tokens, 0 at padding (trace-only for `rlpr.traceOnlyGradient`). */
  readonly responseMask: tf.Tensor;
  /**
   * `[B]` (or `[B, T]`) advantages, precomputed on the whole rollout batch. Omit it and pass
   * `groupSize` to have the loss compute them from `rewards` ({@link AdvantageOptions}).
   */
  readonly advantages: tf.Tensor;
  /** `[B]` rewards, for metrics only (optional). */
  readonly rewards?: tf.Tensor;
  /** `[B, T]` per-token policy entropy (optional; required when `entropyCoef` > 0). */
  readonly entropy?: tf.Tensor;
}

/** Options shared by `rlprLoss` and `grpoLoss` (advantage default `'grpo'` for both). */
export interface PolicyLossOptions extends AdvantageOptions {
  /** PPO lower / upper clip; 0.2 / 0.27 (RLPR reference code). */
  readonly clipLow?: number;
  readonly clipHigh?: number;
  /** The log-ratio is clamped to ±this before `exp`; 20 (verl). */
  readonly logRatioClamp?: number;
  /** Aggregation of every term; `'token-mean'` (verl default used by RLPR). */
  readonly aggregation?: AggregationName | Aggregation;
  /** `'ppo-clip'` (default), `'pg'`, `'reinforce'`, or your own surrogate. */
  readonly surrogate?: SurrogateName | Surrogate;
  /** Entropy bonus coefficient (`rlpr.entropyCoef`); 0. Needs `entropy` when > 0. */
  readonly entropyCoef?: number;
  /** Compute `metrics`; default true. */
  readonly computeMetrics?: boolean;
  /**
   * Check the batch's values (finite log-probs ≤ 0 at real tokens, mask ≥ 0, finite advantages
   * and rewards) in one device read-back; default true. `false` skips them: with
   * `computeMetrics: false` the call reads nothing back. Shapes, dtypes and options are still
   * checked.
   */
  readonly validate?: boolean;
}

/**
 * The defaults of `rlprLoss`'s options (RLPR reference code; config keys `rlpr.*`), the one place
 * they are stated.
 */
export const rlprLossDefaults = Object.freeze({
  clipLow: 0.2,
  clipHigh: 0.27,
  logRatioClamp: 20,
  entropyCoef: 0,
  aggregation: 'token-mean',
  surrogate: 'ppo-clip',
  advantage: 'grpo',
  advantageEpsilon: 1e-6,
} as const);

/** The defaults of `grpoLoss`'s options: RLPR's plus the reference KL (verl; `grpo.*`). */
export const grpoLossDefaults = Object.freeze({
  ...rlprLossDefaults,
  klCoef: 0,
  klEstimator: 'lowVarKl',
} as const);

/** The allowed range of each numeric option of `rlprLoss`, checked by the loss itself. */
export const rlprLossRanges = Object.freeze({
  ...ppoRanges,
  entropyCoef: { min: 0, max: Number.MAX_VALUE },
} as const satisfies Record<string, NumberRange>);

/** The allowed range of each numeric option of `grpoLoss`. */
export const grpoLossRanges = Object.freeze({
  ...rlprLossRanges,
  klCoef: { min: 0, max: Number.MAX_VALUE },
} as const satisfies Record<string, NumberRange>);

/** The KL-to-reference part (only `grpoLoss` exposes it). */
export interface ReferenceKl {
  /** `[B, T]` log π_ref of the response tokens under a frozen reference (optional). */
  readonly refLogProbs?: tf.Tensor;
  /** KL coefficient (`grpo.klCoef`); 0. Needs `refLogProbs` when > 0 (verl uses 0.001). */
  readonly klCoef?: number;
  /** Per-token estimator of KL(π‖π_ref): `'lowVarKl'` (verl default) or any name/function. */
  readonly klEstimator?: KlEstimatorName | KlEstimator;
}

/** A policy batch with precomputed advantages, or with rewards to compute them from. */
export type PolicyLossBatch = PolicyBatch | BatchWithRewards<PolicyBatch>;

/**
 * `L = aggregate(surrogate(clamp(ℓ − ℓ_old, ±20), A), mask) − entropyCoef·aggregate(H, mask)
 *  + klCoef·aggregate(kl(ℓ, ℓ_ref), mask)`: the PPO loss RLPR and the GRPO reference share.
 * The surrogate also receives `logProbs = ℓ` (for `'reinforce'`); A is `x.advantages` or
 * `groupAdvantages` of `x.rewards` (default `'grpo'`).
 */
export function policyLoss(
  fn: string,
  x: PolicyLossBatch & PolicyLossOptions & ReferenceKl,
): LossResult {
  if (typeof x !== 'object' || x === null) throw new Error(`${fn}: argument must be an object`);
  const plan = planAdvantages(fn, x, grpoLossDefaults.advantage);
  const validate = x.validate ?? true;
  const lp = (name: keyof PolicyBatch | 'refLogProbs', optional = false) => ({
    name,
    value: x[name],
    dims: ['B', 'T'],
    kind: 'logProbs' as const,
    mask: 'responseMask',
    optional,
  });
  const rows = (x.advantages?.rank ?? 1) === 2 ? ['B', 'T'] : ['B'];
  validateFields(
    fn,
    [
      lp('responseLogProbs'),
      lp('oldResponseLogProbs'),
      { ...lp('entropy', true), nonPositive: false }, // an entropy is ≥ 0
      lp('refLogProbs', true),
      { name: 'responseMask', value: x.responseMask, dims: ['B', 'T'], kind: 'mask' },
      {
        name: 'advantages',
        value: x.advantages,
        dims: rows,
        kind: 'finite',
        optional: plan.kind === 'computed',
      },
      {
        name: 'rewards',
        value: x.rewards,
        dims: ['B'],
        kind: 'finite',
        optional: plan.kind === 'given',
      },
    ],
    validate,
  );
  checkGroups(fn, plan, x.rewards);
  const d = grpoLossDefaults;
  const r = grpoLossRanges;
  const clipLow = numberInRange(fn, 'clipLow', x.clipLow ?? d.clipLow, r.clipLow);
  const clipHigh = numberInRange(fn, 'clipHigh', x.clipHigh ?? d.clipHigh, r.clipHigh);
  const clamp = numberInRange(
    fn,
    'logRatioClamp',
    x.logRatioClamp ?? d.logRatioClamp,
    r.logRatioClamp,
  );
  const entropyCoef = numberInRange(
    fn,
    'entropyCoef',
    x.entropyCoef ?? d.entropyCoef,
    r.entropyCoef,
  );
  const klCoef = numberInRange(fn, 'klCoef', x.klCoef ?? d.klCoef, r.klCoef);
  if (entropyCoef > 0 && x.entropy === undefined)
    throw new Error(`${fn}: entropy is required when entropyCoef > 0`);
  if (klCoef > 0 && x.refLogProbs === undefined)
    throw new Error(`${fn}: refLogProbs is required when klCoef > 0`);
  const aggregate = resolve(fn, 'aggregation', x.aggregation ?? d.aggregation, aggregations);
  const surrogate = resolve(fn, 'surrogate', x.surrogate ?? d.surrogate, surrogates);
  const estimator = resolve(fn, 'klEstimator', x.klEstimator ?? d.klEstimator, klEstimators);
  let metrics: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const y = float32Fields(x); // an int32/bool mask as float32, cast once
    const advantages = advantagesOf(fn, plan, y, validate); // [B] or [B, T]
    const mask = y.responseMask;
    const logProbs = zeroPadding(y.responseLogProbs, mask);
    const logRatio = tf.clipByValue(
      tf.sub(logProbs, zeroPadding(y.oldResponseLogProbs, mask)),
      -clamp,
      clamp,
    );
    // Inputs were checked once above: the building blocks skip their own value read-backs.
    const lossPg = aggregate({
      loss: surrogate({ logRatio, advantages, clipLow, clipHigh, logProbs, validate: false }),
      mask,
      validate: false,
    });
    let total: tf.Tensor = lossPg;
    const extra: [string, tf.Tensor][] = [];
    if (y.entropy !== undefined) {
      const lossEntropy = aggregate({
        loss: zeroPadding(y.entropy, mask),
        mask,
        validate: false,
      });
      total = tf.sub(total, tf.mul(entropyCoef, lossEntropy));
      extra.push(['loss/entropy', lossEntropy]);
    }
    if (y.refLogProbs !== undefined) {
      const refLogProbs = zeroPadding(y.refLogProbs, mask);
      const kl = estimator({ logProbs, refLogProbs, validate: false });
      const lossKl = aggregate({ loss: kl, mask, validate: false });
      total = tf.add(total, tf.mul(klCoef, lossKl));
      extra.push(['loss/kl', lossKl], ['kl/mean', maskedMean(kl, mask)]);
    }
    if (x.computeMetrics ?? true) {
      const ratio = tf.exp(logRatio);
      const rewards = y.rewards;
      metrics = readScalars([
        ['loss/total', total],
        ['loss/pg', lossPg],
        ...extra,
        ['ratio/mean', maskedMean(ratio, mask)],
        ['ratio/max', maskedMax(ratio, mask)],
        ['ratio/min', maskedMin(ratio, mask)],
        ['ratio/max_abs_log', maskedMax(tf.abs(logRatio), mask)],
        ...(rewards === undefined
          ? []
          : ([
              ['reward/mean', tf.mean(rewards)],
              ['reward/std', tf.sqrt(tf.moments(rewards).variance)],
            ] as [string, tf.Tensor][])),
      ]);
      const fractions = clipFractions({
        logRatio,
        advantages,
        mask,
        clipLow,
        clipHigh,
        validate: false,
      });
      metrics['ratio/clip_fraction'] = fractions.clipFraction;
      metrics['ratio/clip_high_fraction'] = fractions.clipHighFraction;
    }
    return total as tf.Scalar;
  });
  return { loss, metrics };
}
