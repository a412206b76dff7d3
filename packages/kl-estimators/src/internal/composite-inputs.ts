import * as tf from '@tensorflow/tfjs-core';
import type { NumberRange } from '@covrl/utils';
import {
  InputChecks,
  asFloat32,
  numberInRange,
  logMixture,
  assertRank,
  assertSameShape,
  assertTensor,
  fail,
} from '@covrl/utils';

/** Inputs shared by the composite estimators. */
export interface CompositeKlInput {
  /** log p_φ(z_t|x, z_<t): trace tokens scored in the question-only context, `[B, T]`. */
  readonly priorLogProbs: tf.Tensor;
  /** log q_ψ(z_t|x, y, z_<t): the same tokens in the answer-shown context, `[B, T]`. */
  readonly posteriorLogProbs: tf.Tensor;
  /** `[B]`: 1 where the trace was generated from the prior template, 0 from the posterior. */
  readonly sampledFromPrior: tf.Tensor;
  /** w in `p′ = w·p_φ + (1−w)·q_ψ`, in `[0, 1]`; default 0.5 (CoVRL paper §2.3). */
  readonly priorWeight?: number;
  /**
   * Check the values (finite log-probs, 0/1 flags) in one device read-back; default true.
   * `false` skips them (no read-back); shapes and dtypes are still checked.
   */
  readonly validate?: boolean;
}

/** The defaults of the composite estimators' options (CoVRL paper §2.3), the one place stated. */
export const compositeKlDefaults = Object.freeze({ priorWeight: 0.5 } as const);

/** The allowed range of each numeric option of the composite estimators (w is a mixture weight). */
export const compositeKlRanges = Object.freeze({
  priorWeight: { min: 0, max: 1 },
} as const satisfies Record<string, NumberRange>);

/** The clipped log-ratios of the composite estimators, computed inside the caller's tidy. */
export interface CompositeParts {
  readonly logPPrime: tf.Tensor; // [B, T]  log p′ = log(w·p_φ + (1−w)·q_ψ)
  readonly logRho: tf.Tensor; // [B, T]  clip(log p′ − log p, ±20)
  readonly rho: tf.Tensor; // [B, T]
  readonly fromPrior: tf.Tensor; // [B, T] bool, row flag broadcast over T
}

/** The clip on log ρ and log ω: e^20 ≈ 4.9e8 keeps every product finite in float32. */
export const COMPOSITE_LOG_CLIP = 20;

/** Validates the composite inputs and returns the shared pieces. Call inside `tf.tidy`. */
export function compositeParts(fn: string, x: CompositeKlInput): CompositeParts & { w: number } {
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  const w = numberInRange(
    fn,
    'priorWeight',
    x.priorWeight ?? compositeKlDefaults.priorWeight,
    compositeKlRanges.priorWeight,
  );
  assertTensor(fn, 'priorLogProbs', x.priorLogProbs);
  assertTensor(fn, 'posteriorLogProbs', x.posteriorLogProbs);
  assertTensor(fn, 'sampledFromPrior', x.sampledFromPrior);
  assertRank(fn, 'priorLogProbs', x.priorLogProbs, 2);
  assertSameShape(fn, 'priorLogProbs', x.priorLogProbs, 'posteriorLogProbs', x.posteriorLogProbs);
  assertRank(fn, 'sampledFromPrior', x.sampledFromPrior, 1);
  if (x.sampledFromPrior.shape[0] !== x.priorLogProbs.shape[0]) {
    fail(
      fn,
      'sampledFromPrior',
      `has length ${x.sampledFromPrior.shape[0]} but priorLogProbs has ${x.priorLogProbs.shape[0]} rows`,
    );
  }
  new InputChecks(fn, x.validate ?? true)
    .finite('priorLogProbs', x.priorLogProbs)
    .finite('posteriorLogProbs', x.posteriorLogProbs)
    .binary('sampledFromPrior', x.sampledFromPrior)
    .run(); // one read-back for the three value checks
  const logPPrime = logMixture(x.priorLogProbs, x.posteriorLogProbs, w); // [B, T]
  const logRho = tf.clipByValue(
    tf.sub(logPPrime, x.priorLogProbs),
    -COMPOSITE_LOG_CLIP,
    COMPOSITE_LOG_CLIP,
  );
  const rho = tf.exp(logRho);
  const fromPrior = tf.broadcastTo(
    tf.expandDims(tf.greater(asFloat32(x.sampledFromPrior), 0.5), 1),
    x.priorLogProbs.shape,
  );
  return { w, logPPrime, logRho, rho, fromPrior };
}
