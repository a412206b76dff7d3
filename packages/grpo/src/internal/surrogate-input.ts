import * as tf from '@tensorflow/tfjs-core';
import {
  assertFinite,
  assertNoNaN,
  assertRank,
  assertSameShape,
  assertTensor,
  fail,
} from './validate.js';

/** Input of every surrogate in `surrogates`. */
export interface SurrogateInput {
  /** `[B, T]` log π_new − log π_old of the sampled tokens. */
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
}

/**
 * Validates a surrogate input and returns the advantages broadcastable to `[B, T]`
 * (`[B]` → `[B, 1]`). Call inside the caller's tidy.
 */
export function surrogateAdvantages(fn: string, x: SurrogateInput): tf.Tensor {
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  assertTensor(fn, 'logRatio', x.logRatio);
  assertTensor(fn, 'advantages', x.advantages);
  assertRank(fn, 'logRatio', x.logRatio, 2);
  const [b, t] = x.logRatio.shape;
  const a = x.advantages.shape;
  const ok = (a.length === 1 && a[0] === b) || (a.length === 2 && a[0] === b && a[1] === t);
  if (!ok) {
    fail(
      fn,
      'advantages',
      `has shape [${a.join(', ')}] but must be [${b}] or [${b}, ${t}] (logRatio is [${b}, ${t}])`,
    );
  }
  assertFinite(fn, 'advantages', x.advantages);
  assertNoNaN(fn, 'logRatio', x.logRatio);
  return a.length === 1 ? tf.expandDims(x.advantages, 1) : x.advantages;
}

/**
 * Validates the optional `logProbs` of a surrogate input as required: a tensor shaped like
 * `logRatio`, without NaN. Returns it.
 */
export function surrogateLogProbs(fn: string, x: SurrogateInput): tf.Tensor {
  if (x.logProbs === undefined) {
    fail(fn, 'logProbs', 'is required: pass the new log π of the sampled tokens, [B, T]');
  }
  assertTensor(fn, 'logProbs', x.logProbs);
  assertSameShape(fn, 'logRatio', x.logRatio, 'logProbs', x.logProbs);
  assertNoNaN(fn, 'logProbs', x.logProbs);
  return x.logProbs;
}
