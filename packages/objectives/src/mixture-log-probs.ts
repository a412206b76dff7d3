import type * as tf from '@tensorflow/tfjs-core';
import { logMixture } from '@covrl/utils';
import { assertNoNaN, assertNumberIn, assertSameShape, assertTensor, fail } from '@covrl/utils';

/**
 * Per-token log-probability of the mixture `weightA·A + (1 − weightA)·B`:
 * `logAddExp(logProbsA + log weightA, logProbsB + log(1 − weightA))`, computed stably as
 * `m + log(exp(a′ − m) + exp(b′ − m))`, `m = max(a′, b′)`.
 *
 * Exact at the ends: `weightA = 1` returns `logProbsA`, `weightA = 0` returns `logProbsB`
 * (copies, so no `log 0 = −∞` enters the value or the gradient). The gradient is the exact
 * posterior weight of each component, ties included.
 *
 * Infinite inputs (guard on the max shift `m`, which would give `∞ − ∞ = NaN`): where both inputs
 * are −∞ the result is −∞ (neither component can produce the token; `log 0`), and where one is
 * +∞ it is +∞, both with a zero gradient. One −∞ input alone is the ordinary case: the other
 * component's `log(weight) + logProbs`, gradient 1 to it and 0 to the −∞ one.
 *
 * Source: CoVRL (arXiv 2512.12576) §2.3 (composite `p′ = w·p_φ + (1−w)·q_ψ`) and the hybrid
 * sampling law `α·p_φ + (1−α)·q_ψ`.
 *
 * @param x.logProbsA - log-probs under component A, any shape (usually `[B, T]`, empty
 *   allowed), no NaN; −∞ allowed.
 * @param x.logProbsB - log-probs under component B, same shape.
 * @param x.weightA - mixture weight of A, a number in `[0, 1]`.
 * @returns Same shape as the inputs.
 * @throws Error naming `mixtureLogProbs` and the argument on a shape mismatch, NaN input or a
 *   weight outside [0, 1].
 */
export function mixtureLogProbs(x: {
  readonly logProbsA: tf.Tensor;
  readonly logProbsB: tf.Tensor;
  readonly weightA: number;
}): tf.Tensor {
  const fn = 'mixtureLogProbs';
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  assertTensor(fn, 'logProbsA', x.logProbsA);
  assertTensor(fn, 'logProbsB', x.logProbsB);
  assertSameShape(fn, 'logProbsA', x.logProbsA, 'logProbsB', x.logProbsB);
  assertNumberIn(fn, 'weightA', x.weightA, 0, 1);
  assertNoNaN(fn, 'logProbsA', x.logProbsA);
  assertNoNaN(fn, 'logProbsB', x.logProbsB);
  return logMixture(x.logProbsA, x.logProbsB, x.weightA);
}
