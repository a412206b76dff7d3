import type * as tf from '@tensorflow/tfjs-core';
import type { Aggregation, AggregationInput, AggregationName } from './aggregations.js';
import { aggregations, validateAggregationInput } from './aggregations.js';
import { fail, resolve } from '@covrl/utils';

/** Input of {@link aggregateLoss}. */
export interface AggregateLossInput extends AggregationInput {
  /** A name from {@link aggregations} or your own {@link Aggregation}; default `'token-mean'`. */
  readonly mode?: AggregationName | Aggregation;
}

/**
 * Reduces masked per-token losses `[B, T]` to a scalar (mask `m`: 1 real token, 0 padding):
 * - `'token-mean'`: `Σ m·l / Σ m` (long sequences weigh more; verl default, RLPR, DAPO);
 * - `'seq-mean-token-mean'`: mean over non-empty rows of `Σ_t m·l / Σ_t m` (original GRPO);
 * - `'seq-mean-token-sum'`: mean over non-empty rows of `Σ_t m·l` (VeriFree);
 * - `'seq-mean-token-sum-norm'`: `Σ m·l / normalizer`, default T (Dr. GRPO, arXiv 2503.20783).
 *
 * Guards: masked positions are replaced by 0 with `where` (so NaN/∞ there cannot leak); a batch
 * with no real token returns 0, not NaN. Differentiable w.r.t. `loss`.
 *
 * Source: verl `core_algos.agg_loss`.
 *
 * @returns A scalar.
 * @throws Error naming `aggregateLoss` (or the mode) and the argument on shape mismatches, a
 *   negative or non-finite mask, NaN losses at real tokens, a non-positive normalizer or an
 *   unknown mode.
 */
export function aggregateLoss(x: AggregateLossInput): tf.Scalar {
  if (typeof x !== 'object' || x === null) fail('aggregateLoss', 'argument', 'must be an object');
  const aggregation = resolve('aggregateLoss', 'mode', x.mode ?? 'token-mean', aggregations);
  const input: AggregationInput =
    x.normalizer === undefined
      ? { loss: x.loss, mask: x.mask }
      : { loss: x.loss, mask: x.mask, normalizer: x.normalizer };
  validateAggregationInput('aggregateLoss', { ...input, validate: x.validate ?? true });
  // Checked once above; the mode itself need not read the values back again.
  return aggregation({ ...input, validate: false });
}
