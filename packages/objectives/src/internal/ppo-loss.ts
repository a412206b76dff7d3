import * as tf from '@tensorflow/tfjs-core';
import type { Aggregation, AggregationName, Surrogate, SurrogateName } from '@covrl/grpo';
import { aggregations, clipFractions, surrogates } from '@covrl/grpo';
import type { KlEstimator, KlEstimatorName } from '@covrl/kl-estimators';
import { klEstimators } from '@covrl/kl-estimators';
import type { AdvantageOptions, BatchWithRewards } from './advantages.js';
import { advantagesOf, checkGroups, planAdvantages } from './advantages.js';
import { clipLowOption, option, validateFields } from './fields.js';
import { maskedMax, maskedMean, maskedMin, readScalars, zeroPadding } from './masked.js';
import { resolve } from './resolve.js';
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
}

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
  const plan = planAdvantages(fn, x, 'grpo');
  const lp = (name: keyof PolicyBatch | 'refLogProbs', optional = false) => ({
    name,
    value: x[name],
    dims: ['B', 'T'],
    kind: 'logProbs' as const,
    mask: 'responseMask',
    optional,
  });
  const rows = (x.advantages?.rank ?? 1) === 2 ? ['B', 'T'] : ['B'];
  validateFields(fn, [
    lp('responseLogProbs'),
    lp('oldResponseLogProbs'),
    lp('entropy', true),
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
  ]);
  checkGroups(fn, plan, x.rewards);
  const clipLow = clipLowOption(fn, x.clipLow ?? 0.2);
  const clipHigh = option(fn, 'clipHigh', x.clipHigh ?? 0.27, 0, Number.MAX_VALUE);
  const clamp = option(fn, 'logRatioClamp', x.logRatioClamp ?? 20, Number.MIN_VALUE, 80);
  const entropyCoef = option(fn, 'entropyCoef', x.entropyCoef ?? 0, 0, Number.MAX_VALUE);
  const klCoef = option(fn, 'klCoef', x.klCoef ?? 0, 0, Number.MAX_VALUE);
  if (entropyCoef > 0 && x.entropy === undefined)
    throw new Error(`${fn}: entropy is required when entropyCoef > 0`);
  if (klCoef > 0 && x.refLogProbs === undefined)
    throw new Error(`${fn}: refLogProbs is required when klCoef > 0`);
  const aggregate = resolve(fn, 'aggregation', x.aggregation ?? 'token-mean', aggregations);
  const surrogate = resolve(fn, 'surrogate', x.surrogate ?? 'ppo-clip', surrogates);
  const estimator = resolve(fn, 'klEstimator', x.klEstimator ?? 'lowVarKl', klEstimators);
  let metrics: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const advantages = advantagesOf(fn, plan, x); // [B] or [B, T]
    const mask = x.responseMask;
    const logProbs = zeroPadding(x.responseLogProbs, mask);
    const logRatio = tf.clipByValue(
      tf.sub(logProbs, zeroPadding(x.oldResponseLogProbs, mask)),
      -clamp,
      clamp,
    );
    const lossPg = aggregate({
      loss: surrogate({ logRatio, advantages, clipLow, clipHigh, logProbs }),
      mask,
    });
    let total: tf.Tensor = lossPg;
    const extra: [string, tf.Tensor][] = [];
    if (x.entropy !== undefined) {
      const lossEntropy = aggregate({ loss: zeroPadding(x.entropy, mask), mask });
      total = tf.sub(total, tf.mul(entropyCoef, lossEntropy));
      extra.push(['loss/entropy', lossEntropy]);
    }
    if (x.refLogProbs !== undefined) {
      const kl = estimator({ logProbs, refLogProbs: zeroPadding(x.refLogProbs, mask) });
      const lossKl = aggregate({ loss: kl, mask });
      total = tf.add(total, tf.mul(klCoef, lossKl));
      extra.push(['loss/kl', lossKl], ['kl/mean', maskedMean(kl, mask)]);
    }
    if (x.computeMetrics ?? true) {
      const ratio = tf.exp(logRatio);
      const rewards = x.rewards;
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
      });
      metrics['ratio/clip_fraction'] = fractions.clipFraction;
      metrics['ratio/clip_high_fraction'] = fractions.clipHighFraction;
    }
    return total as tf.Scalar;
  });
  return { loss, metrics };
}
