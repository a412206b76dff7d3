import * as tf from '@tensorflow/tfjs-core';
import type {
  Aggregation,
  AggregationName,
  Surrogate,
  SurrogateInput,
  SurrogateName,
} from '@covrl/grpo';
import { aggregations, surrogates } from '@covrl/grpo';
import type { AdvantageOptions, BatchWithRewards } from './internal/advantages.js';
import { advantagesOf, checkGroups, planAdvantages } from './internal/advantages.js';
import { float32Fields, mergeArgs, validateFields } from './internal/fields.js';
import { maskedMax, maskedMin, perRow, readScalars, zeroPadding } from './internal/masked.js';
import type { NumberRange } from '@covrl/utils';
import { ppoRanges } from './internal/ranges.js';
import { numberInRange, resolve } from '@covrl/utils';
import { stopGradient } from './internal/stop-gradient.js';
import { fail } from '@covrl/utils';
import type { LossResult } from './types.js';

/** The scored batch of {@link verifreeLoss} (one PRIOR-SCORE pass with the current parameters). */
export interface VerifreeBatch {
  /** `[B, T]` log π_θ(z_t | x, z_<t) of the trace tokens (gradient). */
  readonly traceLogProbs: tf.Tensor;
  /** `[B, T]` 1 at trace tokens, 0 at padding. */
  readonly traceMask: tf.Tensor;
  /** `[B, A]` log π_θ of the answer span (`enc(y) ‖ enc("</answer>")` by default) (gradient). */
  readonly answerLogProbs: tf.Tensor;
  /** `[B, A]` 1 at answer-span tokens, 0 at padding. */
  readonly answerMask: tf.Tensor;
  /**
   * `[B]` detached advantages (default `'rloo'`, no std). Omit it and pass `groupSize` to have the
   * loss compute them from `rewards` ({@link AdvantageOptions}).
   */
  readonly advantages: tf.Tensor;
  /** `[B]` detached rewards `R = π_θ(y|x, z)` (`'prob'`), 0 for invalid rows. */
  readonly rewards: tf.Tensor;
  /** `[B, T]` detached trace log-probs for ratio logging only (optional). */
  readonly oldTraceLogProbs?: tf.Tensor;
}

/** Options of {@link verifreeLoss} (config keys `verifree.*`). */
export interface VerifreeLossOptions extends AdvantageOptions {
  /** `verifree.answerTermWeight`: weight of the answer term, `'reward'` R (default), `'adv'` A, or `'1'`. */
  readonly answerTermWeight?: 'reward' | 'adv' | '1';
  /** Aggregation of both terms; `'seq-mean-token-sum'` (VeriFree reference code). */
  readonly aggregation?: AggregationName | Aggregation;
  /**
   * Surrogate of the trace (policy) term: `'reinforce'` (default, `−A·ℓ`, VeriFree's REINFORCE
   * term exactly), `'pg'` (`−A·ρ`: the same gradient on-policy, value `−A`), `'ppo-clip'`, or your
   * own {@link Surrogate}. It receives `logRatio = clamp(ℓ − ℓ_old, ±logRatioClamp)` (with
   * `ℓ_old = oldTraceLogProbs`, or the detached current `ℓ` when absent: ratio 1, gradient
   * through `ℓ`), `logProbs = ℓ` and the advantages. `logRatio` is a getter that builds the
   * tensor on the first read, so a surrogate that never reads it (`'reinforce'`) costs neither its
   * ops nor a NaN read-back; the tensor lives until the surrogate's result is aggregated.
   */
  readonly surrogate?: SurrogateName | Surrogate;
  /**
   * Lower clip ε_low of a clipping surrogate (`'ppo-clip'`: ratios below `1 − clipLow` are
   * clipped; the default `'reinforce'` ignores it), in `[0, 1)`; 0.2.
   */
  readonly clipLow?: number;
  /**
   * Upper clip ε_high of a clipping surrogate (`'ppo-clip'`: ratios above `1 + clipHigh` are
   * clipped; the default `'reinforce'` ignores it), ≥ 0; defaults to `clipLow` (symmetric clip).
   */
  readonly clipHigh?: number;
  /** The trace log-ratio given to the surrogate is clamped to ±this before `exp`; 20 (verl). */
  readonly logRatioClamp?: number;
  /** Compute `metrics`; default true. */
  readonly computeMetrics?: boolean;
  /**
   * Check the batch's values (finite log-probs ≤ 0 at real tokens, masks ≥ 0, finite advantages
   * and rewards) in one device read-back; default true. `false` skips them: with
   * `computeMetrics: false` the call reads nothing back. Shapes, dtypes and options are still
   * checked.
   */
  readonly validate?: boolean;
}

/**
 * The defaults of {@link verifreeLoss}'s options (VeriFree reference code; config keys
 * `verifree.*`), the one place they are stated. `clipHigh` defaults to the resolved `clipLow`.
 */
export const verifreeLossDefaults = Object.freeze({
  answerTermWeight: 'reward',
  aggregation: 'seq-mean-token-sum',
  surrogate: 'reinforce',
  clipLow: 0.2,
  clipHigh: 0.2,
  logRatioClamp: 20,
  advantage: 'rloo',
  advantageEpsilon: 1e-6,
} as const);

/** The names `answerTermWeight` accepts. */
export const verifreeAnswerTermWeights = Object.freeze(['reward', 'adv', '1'] as const);

/** The allowed range of each numeric option of {@link verifreeLoss}, checked by the loss itself. */
export const verifreeLossRanges = Object.freeze({
  ...ppoRanges,
} as const satisfies Record<string, NumberRange>);

/**
 * VeriFree's loss (arXiv 2505.21493 and reference code; method specification §5), strictly
 * on-policy, no clipping and no KL by default:
 * ```text
 * L = aggregate(surrogate(logRatio, A, ℓ_trace), traceMask) + aggregate(−W·ℓ_answer, answerMask)
 *   = aggregate(−A·ℓ_trace, traceMask)    + aggregate(−W·ℓ_answer, answerMask),   W = R | A | 1
 * ```
 * (second line: the default `'reinforce'` surrogate), both with `'seq-mean-token-sum'`, i.e.
 * `mean_i[−A_i·Σ_t ℓ_t − R_i·Σ_k ℓ^ans_k]`. The first term is REINFORCE on the trace (the
 * gradient of the unclipped surrogate at ratio 1); the second is the reward-weighted likelihood
 * of the reference answer. A and R are detached inputs.
 *
 * Composition: the trace term goes through `@covrl/grpo`'s surrogate registry (`surrogate`), the
 * advantages through its advantage registry when computed here (`groupSize` + `advantage`,
 * default `'rloo'`; see {@link AdvantageOptions}), both terms through its aggregation registry
 * (`aggregation`). The answer term has no surrogate on purpose: its tokens are the reference
 * answer, teacher-forced, never sampled from the policy, so there is no behaviour distribution
 * to correct for and no ratio to clip. `R·∇log π_θ(y|x,z)` is the exact gradient of
 * `E_z[π_θ(y|x,z)]` through the decoder, and a PPO clip would only bias it. What is swappable
 * there is its weight (`answerTermWeight`) and its aggregation.
 *
 * Guards: padding (mask 0) is replaced by 0 before any op, so its values never matter; the
 * trace log-ratio is clamped to ±`logRatioClamp` before the surrogate (verl's policy-loss clamp,
 * so a ratio surrogate cannot overflow `exp`); the logged ratio is the unclamped `exp(ℓ − ℓ_old)`.
 *
 * Call as `verifreeLoss(batch, options)` (options may also sit in the first object). The batch
 * carries precomputed `advantages`, or (with `groupSize`) only `rewards` of whole groups.
 *
 * Shapes: `traceLogProbs`, `traceMask`, `oldTraceLogProbs` `[B, T]`; `answerLogProbs`,
 * `answerMask` `[B, A]`; `advantages`, `rewards` `[B]`; B ≥ 1.
 *
 * Metrics: `loss/total`, `loss/pg`, `loss/answer`, `reward/mean`, `reward/zero_fraction`, and
 * `ratio/max`, `ratio/min` (should be 1) when `oldTraceLogProbs` is given.
 *
 * @throws Error naming `verifreeLoss` and the field or option on inconsistent shapes, B = 0,
 *   non-finite log-probs at real tokens, non-finite rewards or advantages, both or neither of
 *   `advantages` and `groupSize`, options out of range or unknown registry names.
 */
export function verifreeLoss(
  batch: (VerifreeBatch | BatchWithRewards<VerifreeBatch>) & VerifreeLossOptions,
  options: VerifreeLossOptions = {},
): LossResult {
  const fn = 'verifreeLoss';
  const x: (VerifreeBatch | BatchWithRewards<VerifreeBatch>) & VerifreeLossOptions = mergeArgs(
    fn,
    batch,
    options,
  );
  const plan = planAdvantages(fn, x, verifreeLossDefaults.advantage);
  const validate = x.validate ?? true;
  validateFields(
    fn,
    [
      {
        name: 'traceLogProbs',
        value: x.traceLogProbs,
        dims: ['B', 'T'],
        kind: 'logProbs',
        mask: 'traceMask',
      },
      { name: 'traceMask', value: x.traceMask, dims: ['B', 'T'], kind: 'mask' },
      {
        name: 'oldTraceLogProbs',
        value: x.oldTraceLogProbs,
        dims: ['B', 'T'],
        kind: 'logProbs',
        mask: 'traceMask',
        optional: true,
      },
      {
        name: 'answerLogProbs',
        value: x.answerLogProbs,
        dims: ['B', 'A'],
        kind: 'logProbs',
        mask: 'answerMask',
      },
      { name: 'answerMask', value: x.answerMask, dims: ['B', 'A'], kind: 'mask' },
      {
        name: 'advantages',
        value: x.advantages,
        dims: ['B'],
        kind: 'finite',
        optional: plan.kind === 'computed',
      },
      { name: 'rewards', value: x.rewards, dims: ['B'], kind: 'finite' },
    ],
    validate,
  );
  checkGroups(fn, plan, x.rewards);
  const d = verifreeLossDefaults;
  const r = verifreeLossRanges;
  const weightName = x.answerTermWeight ?? d.answerTermWeight;
  if (!(verifreeAnswerTermWeights as readonly string[]).includes(weightName)) {
    fail(
      fn,
      'answerTermWeight',
      `'${String(weightName)}' is unknown; valid names: ${verifreeAnswerTermWeights.join(', ')}`,
    );
  }
  const aggregate = resolve(fn, 'aggregation', x.aggregation ?? d.aggregation, aggregations);
  const surrogate = resolve(fn, 'surrogate', x.surrogate ?? d.surrogate, surrogates);
  const clipLow = numberInRange(fn, 'clipLow', x.clipLow ?? d.clipLow, r.clipLow);
  const clipHigh = numberInRange(fn, 'clipHigh', x.clipHigh ?? clipLow, r.clipHigh);
  const clamp = numberInRange(
    fn,
    'logRatioClamp',
    x.logRatioClamp ?? d.logRatioClamp,
    r.logRatioClamp,
  );
  let metrics: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const y = float32Fields(x); // int32/bool masks and rewards as float32, cast once
    const advantages = advantagesOf(fn, plan, y, validate); // [B]
    const trace = zeroPadding(y.traceLogProbs, y.traceMask); // [B, T]
    const answer = zeroPadding(y.answerLogProbs, y.answerMask); // [B, A]
    const oldTrace =
      y.oldTraceLogProbs === undefined ? undefined : zeroPadding(y.oldTraceLogProbs, y.traceMask);
    const weight =
      weightName === 'reward'
        ? y.rewards
        : weightName === 'adv'
          ? advantages
          : tf.onesLike(y.rewards); // [B]
    // The log-ratio is built on the surrogate's first read of `logRatio`, if any: the default
    // 'reinforce' reads only ℓ and A, so it costs neither the ops nor the surrogate's NaN read-back.
    // Kept (not tracked by whatever tidy is open at that read, maybe the surrogate's own), so every
    // read sees one live tensor, and disposed here once the term is aggregated.
    let built: tf.Tensor | undefined;
    const input: SurrogateInput = {
      advantages,
      clipLow,
      clipHigh,
      logProbs: trace,
      validate: false, // checked once with the batch
      get logRatio(): tf.Tensor {
        // Without old log-probs the update is on-policy: ℓ_old = ℓ detached (ratio 1, gradient ∇ℓ).
        built ??= tf.keep(
          tf.tidy(() =>
            tf.clipByValue(tf.sub(trace, oldTrace ?? stopGradient(trace)), -clamp, clamp),
          ),
        ); // [B, T]
        return built;
      },
    };
    let lossPg: tf.Tensor;
    try {
      lossPg = aggregate({ loss: surrogate(input), mask: y.traceMask, validate: false });
    } finally {
      built?.dispose();
    }
    const lossAnswer = aggregate({
      loss: tf.neg(tf.mul(perRow(weight), answer)),
      mask: y.answerMask,
      validate: false,
    });
    const total = tf.add(lossPg, lossAnswer);
    if (x.computeMetrics ?? true) {
      const ratio = oldTrace === undefined ? undefined : tf.exp(tf.sub(trace, oldTrace));
      metrics = readScalars([
        ['loss/total', total],
        ['loss/pg', lossPg],
        ['loss/answer', lossAnswer],
        ['reward/mean', tf.mean(y.rewards)],
        ['reward/zero_fraction', tf.mean(tf.cast(tf.equal(y.rewards, 0), 'float32'))],
        ...(ratio === undefined
          ? []
          : ([
              ['ratio/max', maskedMax(ratio, y.traceMask)],
              ['ratio/min', maskedMin(ratio, y.traceMask)],
            ] as [string, tf.Tensor][])),
      ]);
    }
    return total as tf.Scalar;
  });
  return { loss, metrics };
}
