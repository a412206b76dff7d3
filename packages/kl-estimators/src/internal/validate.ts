/**
 * Input checks shared by the estimators. Each throws `Error('<fn>: <argument> ...')` so a caller
 * sees which function and which argument was wrong. The finiteness checks read back one boolean
 * (one reduction on the backend, no per-element JavaScript loop). An empty tensor (size 0) holds
 * no bad element, so every value check passes on it without touching the backend: TF.js's
 * `tf.all` of an empty tensor is `false`, which would report NaN that is not there.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Throws the package's uniform error message. */
export function fail(fn: string, argument: string, problem: string): never {
  throw new Error(`${fn}: ${argument} ${problem}`);
}

/** Asserts that `value` looks like a TF.js tensor (duck-typed, so any tfjs-core copy passes). */
export function assertTensor(
  fn: string,
  argument: string,
  value: unknown,
): asserts value is tf.Tensor {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('shape' in value) ||
    !('dtype' in value) ||
    !Array.isArray((value as { shape: unknown }).shape)
  ) {
    fail(fn, argument, 'must be a tf.Tensor');
  }
  if ((value as tf.Tensor).isDisposed) fail(fn, argument, 'was already disposed');
}

/** Asserts `t` has the given rank. */
export function assertRank(fn: string, argument: string, t: tf.Tensor, rank: number): void {
  if (t.rank !== rank) {
    fail(fn, argument, `must have rank ${rank} but has shape [${t.shape.join(', ')}]`);
  }
}

/** Asserts two tensors have identical shapes. */
export function assertSameShape(
  fn: string,
  argumentA: string,
  a: tf.Tensor,
  argumentB: string,
  b: tf.Tensor,
): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    fail(
      fn,
      argumentB,
      `has shape [${b.shape.join(', ')}] but must match ${argumentA} [${a.shape.join(', ')}]`,
    );
  }
}

/** Asserts no element is NaN (`x != x` is true only for NaN, on every backend). */
export function assertNoNaN(fn: string, argument: string, t: tf.Tensor): void {
  if (t.size === 0) return;
  const bad = tf.tidy(() => tf.any(tf.notEqual(t, t)).dataSync()[0]);
  if (bad) fail(fn, argument, 'contains NaN; pass finite values');
}

/** Asserts every element is finite (neither NaN nor ±Infinity). */
export function assertFinite(fn: string, argument: string, t: tf.Tensor): void {
  if (t.size === 0) return;
  const ok = tf.tidy(() => tf.all(tf.less(tf.abs(t), Infinity)).dataSync()[0]);
  if (!ok) fail(fn, argument, 'contains NaN or ±Infinity; pass finite values');
}

/** Asserts every element is exactly 0 or 1. */
export function assertBinary(fn: string, argument: string, t: tf.Tensor): void {
  if (t.size === 0) return;
  const ok = tf.tidy(() => tf.all(tf.logicalOr(tf.equal(t, 0), tf.equal(t, 1))).dataSync()[0]);
  if (!ok) fail(fn, argument, 'must hold only 0 and 1');
}

/** Asserts `x` is a finite number inside `[low, high]`. */
export function assertNumberIn(
  fn: string,
  argument: string,
  x: unknown,
  low: number,
  high: number,
): asserts x is number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < low || x > high) {
    fail(fn, argument, `must be a finite number in [${low}, ${high}], got ${String(x)}`);
  }
}
