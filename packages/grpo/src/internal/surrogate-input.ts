import * as tf from '@tensorflow/tfjs-core';
import { InputChecks, asFloat32, assertRank, assertTensor, fail } from '@covrl/utils';

/** Input of every surrogate in `surrogates`. */
export interface SurrogateInput {
  /**
   * `[B, T]` log π_new − log π_old of the sampled tokens. Surrogates written on `logProbs` alone
   * (`'reinforce'`) never read it, so a caller may supply it as a getter that builds it on first
   * read (as `verifreeLoss` does).
   */
  readonly logRatio: tf.Tensor;
  /** `[B]` (broadcast over T) or `[B, T]` advantages; detached. */
  readonly advantages: tf.Tensor;
  /** PPO lower clip ε_low: ratios below `1 − clipLow` are clipped; default 0.2. */
  readonly clipLow?: number;
  /** PPO upper clip ε_high: ratios above `1 + clipHigh` are clipped; default `clipLow`. */
  readonly clipHigh?: number;
  /**
   * `[B, T]` log π_new of the same sampled tokens (the numerator of `logRatio`), for surrogates
   * written on the log-probability itself (`'reinforce'`); the ratio surrogates ignore it. The
   * losses of `@covrl/objectives` always pass it.
   */
  readonly logProbs?: tf.Tensor;
  /**
   * Check the values of `advantages` (finite) and of the per-token input (no NaN), in one device
   * read-back; default true. `false` skips them (no read-back); shapes and dtypes are still
   * checked. The losses of `@covrl/objectives` pass `false` for inputs they already checked.
   */
  readonly validate?: boolean;
}

/**
 * Validates a surrogate input and returns the advantages broadcastable to `[B, T]`
 * (`[B]` → `[B, 1]`). `per` names the `[B, T]` tensor the surrogate computes with (`logRatio`
 * for the ratio surrogates, `logProbs` for `'reinforce'`): it is checked (rank 2, no NaN) and
 * fixes B and T; the other one is not read at all. Int32 advantages are cast to float32. Value
 * checks go into `checks` when given (the caller runs them), else run here with one read-back
 * (NaN/±Infinity throws a `NonFiniteInputError`). Call inside the caller's tidy.
 */
export function surrogateAdvantages(
  fn: string,
  x: SurrogateInput,
  per: 'logRatio' | 'logProbs' = 'logRatio',
  checks?: InputChecks,
): tf.Tensor {
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  const perToken = per === 'logRatio' ? x.logRatio : surrogateLogProbs(fn, x);
  assertTensor(fn, per, perToken);
  assertTensor(fn, 'advantages', x.advantages);
  assertRank(fn, per, perToken, 2);
  const [b, t] = perToken.shape;
  const a = x.advantages.shape;
  const ok = (a.length === 1 && a[0] === b) || (a.length === 2 && a[0] === b && a[1] === t);
  if (!ok) {
    fail(
      fn,
      'advantages',
      `has shape [${a.join(', ')}] but must be [${b}] or [${b}, ${t}] (${per} is [${b}, ${t}])`,
    );
  }
  const batch = checks ?? new InputChecks(fn, x.validate ?? true);
  batch.finite('advantages', x.advantages).noNaN(per, perToken, 'contains NaN; pass finite values');
  if (checks === undefined) batch.run();
  const advantages = asFloat32(x.advantages);
  return a.length === 1 ? tf.expandDims(advantages, 1) : advantages;
}

/** The optional `logProbs` of a surrogate input, as required (its values are checked by the caller). */
function surrogateLogProbs(fn: string, x: SurrogateInput): tf.Tensor {
  if (x.logProbs === undefined) {
    fail(fn, 'logProbs', 'is required: pass the new log π of the sampled tokens, [B, T]');
  }
  return x.logProbs;
}
