import * as tf from '@tensorflow/tfjs-core';
import type { Aggregation, AggregationName } from '@covrl/grpo';
import { aggregations } from '@covrl/grpo';
import { validateFields } from './internal/fields.js';
import { maskedMax, maskedMin, perRow, readScalars, zeroPadding } from './internal/masked.js';
import { resolve } from './internal/resolve.js';
import { fail } from './internal/validate.js';
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
  /** `[B]` detached advantages (default `'rloo'`, no std). */
  readonly advantages: tf.Tensor;
  /** `[B]` detached rewards `R = π_θ(y|x, z)` (`'prob'`), 0 for invalid rows. */
  readonly rewards: tf.Tensor;
  /** `[B, T]` detached trace log-probs for ratio logging only (optional). */
  readonly oldTraceLogProbs?: tf.Tensor;
}

/** Options of {@link verifreeLoss} (config keys `verifree.*`). */
export interface VerifreeLossOptions {
  /** `verifree.answerTermWeight`: weight of the answer term, `'reward'` R (default), `'adv'` A, or `'1'`. */
  readonly answerTermWeight?: 'reward' | 'adv' | '1';
  /** Aggregation of both terms; `'seq-mean-token-sum'` (VeriFree reference code). */
  readonly aggregation?: AggregationName | Aggregation;
  /** Compute `metrics`; default true. */
  readonly computeMetrics?: boolean;
}

/**
 * VeriFree's loss (arXiv 2505.21493 and reference code; method specification §5), strictly
 * on-policy, no clipping and no KL:
 * ```text
 * L = aggregate(−A·ℓ_trace, traceMask) + aggregate(−W·ℓ_answer, answerMask),  W = R | A | 1
 * ```
 * both with `'seq-mean-token-sum'`, i.e. `mean_i[−A_i·Σ_t ℓ_t − R_i·Σ_k ℓ^ans_k]`. The first term
 * has the gradient of the unclipped surrogate at ratio 1 (REINFORCE on the trace); the second is
 * the reward-weighted likelihood of the reference answer. A and R are detached inputs.
 *
 * Call as `verifreeLoss(batch, options)` (options may also sit in the first object).
 *
 * Metrics: `loss/total`, `loss/pg`, `loss/answer`, `reward/mean`, `reward/zero_fraction`, and
 * `ratio/max`, `ratio/min` (should be 1) when `oldTraceLogProbs` is given.
 *
 * @throws Error naming `verifreeLoss` and the field or option on invalid input.
 */
export function verifreeLoss(
  batch: VerifreeBatch & VerifreeLossOptions,
  options: VerifreeLossOptions = {},
): LossResult {
  const fn = 'verifreeLoss';
  if (typeof batch !== 'object' || batch === null)
    throw new Error(`verifreeLoss: batch must be an object`);
  if (typeof options !== 'object' || options === null) {
    throw new Error(`verifreeLoss: options must be an object`);
  }
  const x: VerifreeBatch & VerifreeLossOptions = { ...batch, ...options };
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  validateFields(fn, [
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
    { name: 'advantages', value: x.advantages, dims: ['B'], kind: 'finite' },
    { name: 'rewards', value: x.rewards, dims: ['B'], kind: 'finite' },
  ]);
  const weightName = x.answerTermWeight ?? 'reward';
  if (!['reward', 'adv', '1'].includes(weightName)) {
    fail(fn, 'answerTermWeight', `'${String(weightName)}' is unknown; valid names: reward, adv, 1`);
  }
  const aggregate = resolve(fn, 'aggregation', x.aggregation ?? 'seq-mean-token-sum', aggregations);
  let metrics: Record<string, number> = {};
  const loss = tf.tidy(() => {
    const trace = zeroPadding(x.traceLogProbs, x.traceMask);
    const answer = zeroPadding(x.answerLogProbs, x.answerMask);
    const weight =
      weightName === 'reward'
        ? x.rewards
        : weightName === 'adv'
          ? x.advantages
          : tf.onesLike(x.rewards); // [B]
    const lossPg = aggregate({
      loss: tf.neg(tf.mul(perRow(x.advantages), trace)),
      mask: x.traceMask,
    });
    const lossAnswer = aggregate({
      loss: tf.neg(tf.mul(perRow(weight), answer)),
      mask: x.answerMask,
    });
    const total = tf.add(lossPg, lossAnswer);
    if (x.computeMetrics ?? true) {
      const ratio =
        x.oldTraceLogProbs === undefined
          ? undefined
          : tf.exp(tf.sub(trace, zeroPadding(x.oldTraceLogProbs, x.traceMask)));
      metrics = readScalars([
        ['loss/total', total],
        ['loss/pg', lossPg],
        ['loss/answer', lossAnswer],
        ['reward/mean', tf.mean(x.rewards)],
        ['reward/zero_fraction', tf.mean(tf.cast(tf.equal(x.rewards, 0), 'float32'))],
        ...(ratio === undefined
          ? []
          : ([
              ['ratio/max', maskedMax(ratio, x.traceMask)],
              ['ratio/min', maskedMin(ratio, x.traceMask)],
            ] as [string, tf.Tensor][])),
      ]);
    }
    return total as tf.Scalar;
  });
  return { loss, metrics };
}
