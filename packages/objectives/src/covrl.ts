import * as tf from '@tensorflow/tfjs-core';
import type { Aggregation, AggregationName, Surrogate, SurrogateName } from '@covrl/grpo';
import { aggregations, clipFractions, surrogates } from '@covrl/grpo';
import { compositeKlDefaults, compositeKlRanges, k3 } from '@covrl/kl-estimators';
import type { AdvantageOptions, BatchWithRewards } from './internal/advantages.js';
import { advantagesOf, checkGroups, planAdvantages } from './internal/advantages.js';
import { float32Fields, mergeArgs, validateFields } from './internal/fields.js';
import type { CovrlKlEstimator } from './internal/kl-term.js';
import { covrlKlTerm } from './internal/kl-term.js';
import type { NumberRange } from '@covrl/utils';
import { ppoRanges } from './internal/ranges.js';
import { logMixture, numberInRange } from '@covrl/utils';
import {
  maskedMax,
  maskedMean,
  maskedMin,
  perRow,
  readScalars,
  zeroPadding,
} from './internal/masked.js';
import { resolve } from '@covrl/utils';
import type { LossResult } from './types.js';

export type { CovrlKlEstimator } from './internal/kl-term.js';

/** The scored batch of {@link covrlLoss}: "new" tensors carry gradient, everything else is detached. */
export interface CovrlBatch {
  /** `[B, T]` new log p_φ of the trace tokens, PRIOR-SCORE context (gradient). */
  readonly priorLogProbs: tf.Tensor;
  /** `[B, T]` new log q_ψ of the same tokens, POSTERIOR context (gradient). */
  readonly posteriorLogProbs: tf.Tensor;
  /** `[B, T]` old (sampling-time) log p_φ. */
  readonly oldPriorLogProbs: tf.Tensor;
  /** `[B, T]` old log q_ψ. */
  readonly oldPosteriorLogProbs: tf.Tensor;
  /** `[B, T]` 1 at generated trace tokens (closing think tag included), 0 at padding. */
  readonly traceMask: tf.Tensor;
  /** `[B, A]` new log p_θ(y_k | x, z, y_<k) of the answer tokens, PRIOR-SCORE context (gradient). */
  readonly answerLogProbs: tf.Tensor;
  /** `[B, A]` 1 at the ids of `{y}`, 0 at padding. */
  readonly answerMask: tf.Tensor;
  /**
   * `[B]` precomputed on the whole rollout batch (default `'dr-grpo'`). Omit it and pass
   * `groupSize` to have the loss compute them from `rewards` ({@link AdvantageOptions}).
   */
  readonly advantages: tf.Tensor;
  /** `[B]` rewards, for metrics (optional), or the source of the advantages with `groupSize`. */
  readonly rewards?: tf.Tensor;
  /** `[B]` 1 where the row was sampled from the prior template. */
  readonly sampledFromPrior: tf.Tensor;
  /** `[B]` 1 where generation hit the token budget; those rows are masked out of the KL. */
  readonly truncated: tf.Tensor;
  /** `[B]` 1 where the trace is well formed (stopped on the close tag, clean body). */
  readonly wellFormed: tf.Tensor;
}

/** Options of {@link covrlLoss}; defaults from the method specification §4 (config keys `covrl.*`). */
export interface CovrlLossOptions extends AdvantageOptions {
  /** `covrl.alpha`: prior-template probability α used in the old hybrid (pass αEff); 0.5. */
  readonly alpha?: number;
  /** `covrl.priorWeight`: w of `p′ = w·p_φ + (1−w)·q_ψ`; 0.5. */
  readonly priorWeight?: number;
  /** `covrl.clipLow` / `covrl.clipHigh`: 0.3 / 0.3. */
  readonly clipLow?: number;
  readonly clipHigh?: number;
  /** `covrl.klCoef` λ_KL: 1. */
  readonly klCoef?: number;
  /** `covrl.nllCoef` λ_NLL: 1. */
  readonly nllCoef?: number;
  /** `covrl.logRatioClamp`: the importance log-ratio is clamped to ±this before `exp`; 20. */
  readonly logRatioClamp?: number;
  /** `covrl.aggregation` for PG, KL and NLL: `'token-mean'`, or your own {@link Aggregation}. */
  readonly aggregation?: AggregationName | Aggregation;
  /**
   * Policy surrogate: `'ppo-clip'` (default), `'pg'`, `'reinforce'`, or your own
   * {@link Surrogate}; it receives `{ logRatio, advantages, clipLow, clipHigh, logProbs }` with
   * `logProbs = log p′_new`.
   */
  readonly surrogate?: SurrogateName | Surrogate;
  /** `covrl.klEstimator`: `'composite'` (default); see {@link CovrlKlEstimator}. */
  readonly klEstimator?: CovrlKlEstimator;
  /** Compute `metrics` (one extra read-back); default true. */
  readonly computeMetrics?: boolean;
  /**
   * Check the batch's values (finite log-probs ≤ 0 at real tokens, masks ≥ 0, 0/1 flags, finite
   * advantages and rewards) in one device read-back; default true. `false` skips them, so a call
   * with `computeMetrics: false` reads nothing back (the hot path on WebGL/WebGPU); shapes,
   * dtypes and options are still checked.
   */
  readonly validate?: boolean;
}

/**
 * The defaults of {@link covrlLoss}'s options (method specification §4; config keys `covrl.*`),
 * the one place they are stated. `clipHigh` defaults to the resolved `clipLow`.
 */
export const covrlLossDefaults = Object.freeze({
  alpha: 0.5,
  // w of the composite KL and of p′: owned by @covrl/kl-estimators.
  priorWeight: compositeKlDefaults.priorWeight,
  clipLow: 0.3,
  clipHigh: 0.3,
  klCoef: 1,
  nllCoef: 1,
  logRatioClamp: 20,
  aggregation: 'token-mean',
  surrogate: 'ppo-clip',
  klEstimator: 'composite',
  advantage: 'dr-grpo',
  advantageEpsilon: 1e-6,
} as const);

/** The allowed range of each numeric option of {@link covrlLoss}, checked by the loss itself. */
export const covrlLossRanges = Object.freeze({
  alpha: { min: 0, max: 1 },
  priorWeight: compositeKlRanges.priorWeight,
  ...ppoRanges,
  klCoef: { min: 0, max: Number.MAX_VALUE },
  nllCoef: { min: 0, max: Number.MAX_VALUE },
} as const satisfies Record<string, NumberRange>);

/**
 * CoVRL's loss (arXiv 2512.12576; method specification §4), one composition:
 * ```text
 * ρ_t   = exp(clamp(covrlImportanceLogRatio(new, old, α, w), ±20))      p′_new / p_hybrid,old
 * L_PG  = aggregate(surrogate(ρ, A, 0.3, 0.3), traceMask)                 ppo-clip, token-mean
 * L_KL  = aggregate(compositeKl(ℓφ, ℓψ, sampledFromPrior, w), traceMask ⊙ (1 − truncated))
 * L_NLL = aggregate(−answerLogProbs, answerMask ⊙ sel),  sel = sampledFromPrior ∧ wellFormed ∧ A > 0
 * L     = L_PG + λ_KL·L_KL + λ_NLL·L_NLL
 * ```
 * Composition: `surrogate`, `klEstimator`, `aggregation` and (with `groupSize`) `advantage` are
 * each a registry name (`@covrl/grpo`, `@covrl/kl-estimators`) or your own function. Advantages
 * are precomputed (`advantages`, the default and the only choice when a mini-batch splits
 * groups) or computed here as `groupAdvantages({ rewards, groupSize, method: advantage ??
 * 'dr-grpo' })` when the batch holds whole, contiguous groups; `A > 0` of either selects NLL rows.
 *
 * Padding (mask 0) is replaced by 0 before any op, so its values never matter. Differentiable
 * w.r.t. `priorLogProbs`, `posteriorLogProbs` and `answerLogProbs`; use inside `tf.variableGrads`.
 * The returned `loss` is the only tensor left behind; metrics are plain numbers.
 *
 * Shapes: trace fields and `traceMask` `[B, T]`; `answerLogProbs`, `answerMask` `[B, A]`;
 * `advantages`, `rewards` and the flags `[B]`; B ≥ 1 (T = 0 or A = 0 make those terms 0).
 *
 * Call as `covrlLoss(batch, options)`; options may also sit in the first object (the second
 * argument wins where both set a key).
 *
 * @throws Error naming `covrlLoss` and the field or option on inconsistent shapes (B, T, A),
 *   B = 0, non-finite log-probs at real tokens, non-0/1 flags, non-finite advantages or rewards,
 *   both or neither of `advantages` and `groupSize`, options out of range or unknown registry
 *   names.
 */
export function covrlLoss(
  batch: (CovrlBatch | BatchWithRewards<CovrlBatch>) & CovrlLossOptions,
  options: CovrlLossOptions = {},
): LossResult {
  const fn = 'covrlLoss';
  const x: (CovrlBatch | BatchWithRewards<CovrlBatch>) & CovrlLossOptions = mergeArgs(
    fn,
    batch,
    options,
  );
  const plan = planAdvantages(fn, x, covrlLossDefaults.advantage);
  validateCovrlBatch(fn, x, plan.kind === 'computed', x.validate ?? true);
  checkGroups(fn, plan, x.rewards);
  const d = covrlLossDefaults;
  const r = covrlLossRanges;
  const alpha = numberInRange(fn, 'alpha', x.alpha ?? d.alpha, r.alpha);
  const priorWeight = numberInRange(
    fn,
    'priorWeight',
    x.priorWeight ?? d.priorWeight,
    r.priorWeight,
  );
  const clipLow = numberInRange(fn, 'clipLow', x.clipLow ?? d.clipLow, r.clipLow);
  const clipHigh = numberInRange(fn, 'clipHigh', x.clipHigh ?? clipLow, r.clipHigh);
  const klCoef = numberInRange(fn, 'klCoef', x.klCoef ?? d.klCoef, r.klCoef);
  const nllCoef = numberInRange(fn, 'nllCoef', x.nllCoef ?? d.nllCoef, r.nllCoef);
  const clamp = numberInRange(
    fn,
    'logRatioClamp',
    x.logRatioClamp ?? d.logRatioClamp,
    r.logRatioClamp,
  );
  const aggregate = resolve(fn, 'aggregation', x.aggregation ?? d.aggregation, aggregations);
  const surrogate = resolve(fn, 'surrogate', x.surrogate ?? d.surrogate, surrogates);
  const validate = x.validate ?? true;
  let metrics: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const y = float32Fields(x); // int32/bool masks and flags as float32, cast once
    const { traceMask, answerMask, sampledFromPrior: fromPrior } = y;
    const advantages = advantagesOf(fn, plan, y, validate); // [B]
    const [prior, posterior, oldPrior, oldPosterior] = [
      y.priorLogProbs,
      y.posteriorLogProbs,
      y.oldPriorLogProbs,
      y.oldPosteriorLogProbs,
    ].map((t) => zeroPadding(t, traceMask)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const answerLogProbs = zeroPadding(y.answerLogProbs, answerMask);

    // log p′_new once for the policy term, shared by the ratio and the surrogate's `logProbs`.
    // The ratio is covrlImportanceLogRatio's formula, log p′_new − log p_hybrid,old, with the same
    // ops (the same bits); its NaN checks are not repeated: the fields are validated above and
    // padding is zeroed. The KL term computes its own copy once (compositeKl shares it between
    // ρ and ω): one tensor with both consumers would sum their gradients before the mixture's
    // backward pass, in another float32 order, and moves the pinned trajectories (measured: CoVRL
    // loss/pg at step 3 off by 3e-7 relative).
    const logPPrime = logMixture(prior, posterior, priorWeight); // [B, T] log p′_new
    const logRatio = tf.clipByValue(
      tf.sub(logPPrime, logMixture(oldPrior, oldPosterior, alpha)), // − log p_hybrid,old
      -clamp,
      clamp,
    ); // [B, T]
    // Inputs were checked once above: the building blocks skip their own value read-backs.
    const lossPg = aggregate({
      loss: surrogate({
        logRatio,
        advantages,
        clipLow,
        clipHigh,
        logProbs: logPPrime,
        validate: false,
      }),
      mask: traceMask,
      validate: false,
    });

    const klMask = tf.mul(traceMask, perRow(tf.sub(1, y.truncated))); // [B, T]
    const kl = covrlKlTerm(fn, x.klEstimator ?? d.klEstimator, {
      prior,
      posterior,
      sampledFromPrior: fromPrior,
      priorWeight,
    });
    const lossKl = aggregate({ loss: kl.perToken, mask: klMask, validate: false });

    const selected = tf.mul(
      tf.mul(fromPrior, y.wellFormed),
      tf.cast(tf.greater(advantages, 0), 'float32'),
    ); // [B]
    const nllMask = tf.mul(answerMask, perRow(selected)); // [B, A]
    const lossNll = aggregate({ loss: tf.neg(answerLogProbs), mask: nllMask, validate: false });

    const total = tf.add(lossPg, tf.add(tf.mul(klCoef, lossKl), tf.mul(nllCoef, lossNll)));

    if (x.computeMetrics ?? true) {
      metrics = covrlMetrics({
        ...y,
        advantages,
        prior,
        posterior,
        answerLogProbs,
        logRatio,
        kl,
        klMask,
        nllMask,
        selected,
        losses: [total, lossPg, lossKl, lossNll],
        clipLow,
        clipHigh,
      });
    }
    return total as tf.Scalar;
  });
  return { loss, metrics };
}

/** CoVRL's metrics (method specification §4) from the loss's intermediates, read back at once. */
function covrlMetrics(m: {
  prior: tf.Tensor;
  posterior: tf.Tensor;
  answerLogProbs: tf.Tensor;
  logRatio: tf.Tensor;
  kl: { perToken: tf.Tensor; label: string };
  klMask: tf.Tensor;
  nllMask: tf.Tensor;
  selected: tf.Tensor;
  losses: [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  traceMask: tf.Tensor;
  advantages: tf.Tensor;
  sampledFromPrior: tf.Tensor;
  rewards?: tf.Tensor;
  clipLow: number;
  clipHigh: number;
}): Record<string, number> {
  const { prior, posterior, logRatio, kl, klMask, traceMask, sampledFromPrior: fromPrior } = m;
  const ratio = tf.exp(logRatio);
  const priorRows = tf.mul(klMask, perRow(fromPrior));
  const posteriorRows = tf.mul(klMask, perRow(tf.sub(1, fromPrior)));
  const k = `kl/${kl.label}`;
  const metrics = readScalars([
    ['loss/total', m.losses[0]],
    ['loss/pg', m.losses[1]],
    ['loss/kl', m.losses[2]],
    ['loss/nll', m.losses[3]],
    ['ratio/mean', maskedMean(ratio, traceMask)],
    ['ratio/max', maskedMax(ratio, traceMask)],
    ['ratio/min', maskedMin(ratio, traceMask)],
    ['ratio/max_abs_log', maskedMax(tf.abs(logRatio), traceMask)],
    [`${k}/mean`, maskedMean(kl.perToken, klMask)],
    [`${k}/max`, maskedMax(kl.perToken, klMask)],
    [`${k}/prior_rows/mean`, maskedMean(kl.perToken, priorRows)],
    [`${k}/posterior_rows/mean`, maskedMean(kl.perToken, posteriorRows)],
    [
      'kl/p_to_q/k3_mean',
      maskedMean(k3({ logProbs: prior, refLogProbs: posterior, validate: false }), priorRows),
    ],
    [
      'kl/q_to_p/k3_mean',
      maskedMean(k3({ logProbs: posterior, refLogProbs: prior, validate: false }), posteriorRows),
    ],
    ['nll/mean', maskedMean(tf.neg(m.answerLogProbs), m.nllMask)],
    ['nll/selected_fraction', tf.mean(m.selected)],
    ...rewardMetrics(m.rewards, fromPrior),
  ]);
  const { clipFraction } = clipFractions({
    logRatio,
    advantages: m.advantages,
    mask: traceMask,
    clipLow: m.clipLow,
    clipHigh: m.clipHigh,
    validate: false,
  });
  metrics['ratio/clip_fraction'] = clipFraction;
  return metrics;
}

/** `reward/mean`, `reward/prior/mean`, `reward/posterior/mean` when rewards are given. */
function rewardMetrics(
  rewards: tf.Tensor | undefined,
  fromPrior: tf.Tensor,
): [string, tf.Tensor][] {
  if (rewards === undefined) return [];
  const rowMean = (w: tf.Tensor): tf.Tensor =>
    tf.div(tf.sum(tf.mul(rewards, w)), tf.maximum(tf.sum(w), 1e-30));
  return [
    ['reward/mean', tf.mean(rewards)],
    ['reward/prior/mean', rowMean(fromPrior)],
    ['reward/posterior/mean', rowMean(tf.sub(1, fromPrior))],
  ];
}

function validateCovrlBatch(
  fn: string,
  x: CovrlBatch | BatchWithRewards<CovrlBatch>,
  computeAdvantages: boolean,
  validate: boolean,
): void {
  if (typeof x !== 'object' || x === null) throw new Error(`${fn}: argument must be an object`);
  const trace = (
    name: 'priorLogProbs' | 'posteriorLogProbs' | 'oldPriorLogProbs' | 'oldPosteriorLogProbs',
  ) => ({
    name,
    value: x[name],
    dims: ['B', 'T'],
    kind: 'logProbs' as const,
    mask: 'traceMask',
  });
  const row = (name: keyof CovrlBatch, kind: 'flag' | 'finite', optional = false) => ({
    name,
    value: x[name],
    dims: ['B'],
    kind,
    optional,
  });
  validateFields(
    fn,
    [
      trace('priorLogProbs'),
      trace('posteriorLogProbs'),
      trace('oldPriorLogProbs'),
      trace('oldPosteriorLogProbs'),
      { name: 'traceMask', value: x.traceMask, dims: ['B', 'T'], kind: 'mask' },
      {
        name: 'answerLogProbs',
        value: x.answerLogProbs,
        dims: ['B', 'A'],
        kind: 'logProbs',
        mask: 'answerMask',
      },
      { name: 'answerMask', value: x.answerMask, dims: ['B', 'A'], kind: 'mask' },
      row('advantages', 'finite', computeAdvantages),
      row('rewards', 'finite', !computeAdvantages),
      row('sampledFromPrior', 'flag'),
      row('truncated', 'flag'),
      row('wellFormed', 'flag'),
    ],
    validate,
  );
}
