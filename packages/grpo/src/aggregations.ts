import * as tf from '@tensorflow/tfjs-core';
import {
  InputChecks,
  asFloat32,
  assertNumberIn,
  assertRank,
  assertSameShape,
  assertTensor,
  fail,
} from '@covrl/utils';

/** Names of the built-in aggregation modes in {@link aggregations}. */
export type AggregationName =
  'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';

/** Input of every {@link Aggregation}. */
export interface AggregationInput {
  /** `[B, T]` per-token losses; values at mask-0 positions never matter (even NaN or ±∞). */
  readonly loss: tf.Tensor;
  /** `[B, T]`, 1 at real tokens, 0 at padding (fractional values act as weights). */
  readonly mask: tf.Tensor;
  /** Constant divisor of `'seq-mean-token-sum-norm'`; default T. Ignored by the other modes. */
  readonly normalizer?: number;
  /**
   * Check the values of `loss` and `mask` (one device read-back); default true. `false` skips
   * those checks, so no read-back (the losses of `@covrl/objectives` pass `false` for inputs
   * they already checked); shapes and dtypes are still checked.
   */
  readonly validate?: boolean;
}

/** Reduces masked per-token losses `[B, T]` to a scalar. */
export type Aggregation = (x: AggregationInput) => tf.Scalar;

/**
 * Validates an aggregation input: `loss` rank 2, `mask` same shape, of any numeric or bool dtype,
 * finite and ≥ 0, no NaN loss at real positions, `normalizer` (when given) finite and > 0. The
 * value checks share one device read-back, skipped with `validate: false`. A NaN loss at a real
 * position throws a `NonFiniteInputError`.
 */
export function validateAggregationInput(fn: string, x: AggregationInput): void {
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  assertTensor(fn, 'loss', x.loss);
  assertRank(fn, 'loss', x.loss, 2);
  assertTensor(fn, 'mask', x.mask);
  assertSameShape(fn, 'loss', x.loss, 'mask', x.mask);
  if (x.normalizer !== undefined) {
    assertNumberIn(fn, 'normalizer', x.normalizer, Number.MIN_VALUE, Number.MAX_VALUE);
  }
  // An empty batch ([0, T] or [B, 0]) has no real position to check; it aggregates to 0.
  new InputChecks(fn, x.validate ?? true)
    .mask('mask', x.mask)
    .noNaN('loss', x.loss, 'contains NaN at real (mask > 0) positions', x.mask)
    .run();
}

/**
 * Validates `x` and returns its float32 mask (cast once when int32 or bool) and `m·l` with masked
 * positions forced to exactly 0 (`[B, T]`). Call inside the mode's tidy.
 */
function maskedLoss(fn: string, x: AggregationInput): { mask: tf.Tensor; masked: tf.Tensor } {
  validateAggregationInput(fn, x);
  const mask = asFloat32(x.mask);
  // where(), not a product: 0·∞ and 0·NaN at padding would otherwise poison the sum.
  const masked = tf.where(tf.greater(mask, 0), tf.mul(x.loss, mask), tf.zerosLike(x.loss));
  return { mask, masked };
}

/** `num / den`, or 0 where `den` is 0 (an all-padding batch gives 0, not NaN). */
function safeDivide(num: tf.Tensor, den: tf.Tensor): tf.Tensor {
  const positive = tf.greater(den, 0);
  return tf.where(
    positive,
    tf.div(num, tf.where(positive, den, tf.onesLike(den))),
    tf.zerosLike(num),
  );
}

/** Mean over non-empty rows of per-row values `[B]` (empty rows hold 0). */
function meanOverNonEmptyRows(rowValues: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const nonEmpty = tf.cast(tf.greater(tf.sum(mask, 1), 0), 'float32'); // [B]
  return safeDivide(tf.sum(rowValues), tf.sum(nonEmpty)) as tf.Scalar;
}

/** `'token-mean'`: `Σ m·l / Σ m` (verl default; RLPR, DAPO). */
function tokenMean(x: AggregationInput): tf.Scalar {
  return tf.tidy(() => {
    const { mask, masked } = maskedLoss("aggregations['token-mean']", x);
    return safeDivide(tf.sum(masked), tf.sum(mask)) as tf.Scalar;
  });
}

/** `'seq-mean-token-mean'`: mean over non-empty rows of `Σ_t m·l / Σ_t m` (original GRPO). */
function seqMeanTokenMean(x: AggregationInput): tf.Scalar {
  return tf.tidy(() => {
    const { mask, masked } = maskedLoss("aggregations['seq-mean-token-mean']", x);
    const rowSums = tf.sum(masked, 1); // [B]
    const rowMeans = safeDivide(rowSums, tf.sum(mask, 1)); // [B], 0 for empty rows
    return meanOverNonEmptyRows(rowMeans, mask);
  });
}

/** `'seq-mean-token-sum'`: mean over non-empty rows of `Σ_t m·l` (VeriFree). */
function seqMeanTokenSum(x: AggregationInput): tf.Scalar {
  return tf.tidy(() => {
    const { mask, masked } = maskedLoss("aggregations['seq-mean-token-sum']", x);
    return meanOverNonEmptyRows(tf.sum(masked, 1), mask);
  });
}

/** `'seq-mean-token-sum-norm'`: `Σ m·l / normalizer`, normalizer default T (Dr. GRPO). */
function seqMeanTokenSumNorm(x: AggregationInput): tf.Scalar {
  return tf.tidy(() => {
    const summed = tf.sum(maskedLoss("aggregations['seq-mean-token-sum-norm']", x).masked);
    const normalizer = x.normalizer ?? (x.loss.shape[1] || 1); // T = 0 would give 0/0
    return tf.div(summed, normalizer) as tf.Scalar;
  });
}

/**
 * The built-in aggregation modes by name, frozen; extend by spreading into a new record.
 * Every mode returns 0 for a batch without any real token, an empty `[0, T]` or `[B, 0]` one
 * included.
 */
export const aggregations = Object.freeze({
  'token-mean': tokenMean,
  'seq-mean-token-mean': seqMeanTokenMean,
  'seq-mean-token-sum': seqMeanTokenSum,
  'seq-mean-token-sum-norm': seqMeanTokenSumNorm,
}) satisfies Readonly<Record<AggregationName, Aggregation>>;
