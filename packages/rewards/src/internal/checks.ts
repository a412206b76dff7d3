/**
 * Argument checks shared by the tensor functions of this package. Every failure throws
 * `Error('<functionName>: <argument> ...')` as the contract requires (api.md, conventions).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Throws unless `value` is a TF.js tensor of the given rank. */
export function assertTensorOfRank(
  functionName: string,
  argument: string,
  value: unknown,
  rank: number,
  shapeText: string,
): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new Error(
      `${functionName}: ${argument} must be a tf.Tensor of shape ${shapeText}, got ${typeof value}` +
        ' (if it is a tensor, check that one copy of @tensorflow/tfjs-core is installed)',
    );
  }
  if (value.rank !== rank) {
    throw new Error(
      `${functionName}: ${argument} must have shape ${shapeText} (rank ${rank}), got [${value.shape.join(', ')}]`,
    );
  }
}

/** Throws unless `a` and `b` have identical shapes. */
export function assertSameShape(
  functionName: string,
  argumentA: string,
  a: tf.Tensor,
  argumentB: string,
  b: tf.Tensor,
): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(
      `${functionName}: ${argumentB} shape [${b.shape.join(', ')}] must equal ${argumentA} shape ` +
        `[${a.shape.join(', ')}]`,
    );
  }
}

/**
 * Evaluates boolean scalar conditions on the backend with ONE synchronous read and throws the
 * message of the first that holds. Each condition is a function building a `bool` scalar that is
 * true when the input is bad; tensors are created and disposed here.
 */
export function throwIfAny(
  functionName: string,
  conditions: ReadonlyArray<readonly [message: string, bad: () => tf.Tensor]>,
): void {
  if (conditions.length === 0) return;
  const flags = tf.tidy(() =>
    tf.stack(conditions.map(([, bad]) => tf.cast(tf.reshape(bad(), []), 'int32'))),
  );
  const values = flags.dataSync();
  flags.dispose();
  conditions.forEach(([message], i) => {
    if (values[i] !== 0) throw new Error(`${functionName}: ${message}`);
  });
}

/**
 * `bool` scalar false, for an empty input: it holds no bad element. Built explicitly rather than
 * trusting a reduction over zero elements on every backend (TF.js's `tf.all` of an empty tensor
 * is `false`, the wrong identity; `tf.any` happens to be right on cpu).
 */
function noneBad(): tf.Tensor {
  return tf.scalar(false, 'bool');
}

/** `bool` scalar: some element of `x` is NaN where `where` (same shape, 1/0) is 1. */
export function anyNaNWhere(x: tf.Tensor, where: tf.Tensor): tf.Tensor {
  if (x.size === 0) return noneBad();
  return tf.any(tf.logicalAnd(tf.isNaN(x), tf.greater(where, 0)));
}

/** `bool` scalar: some element of `x` is not finite (NaN or ±∞) where `where` is 1. */
export function anyNonFiniteWhere(x: tf.Tensor, where: tf.Tensor): tf.Tensor {
  if (x.size === 0) return noneBad();
  return tf.any(tf.logicalAnd(tf.logicalNot(tf.isFinite(x)), tf.greater(where, 0)));
}

/** `bool` scalar: some element of `mask` is neither 0 nor 1. */
export function anyNotZeroOne(mask: tf.Tensor): tf.Tensor {
  if (mask.size === 0) return noneBad();
  const m = tf.cast(mask, 'float32');
  return tf.any(tf.logicalAnd(tf.notEqual(m, 0), tf.notEqual(m, 1)));
}

/** Throws unless `value` is a finite number satisfying `ok`, naming the requirement. */
export function assertNumber(
  functionName: string,
  argument: string,
  value: unknown,
  requirement: string,
  ok: (v: number) => boolean,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new Error(`${functionName}: ${argument} must be ${requirement}, got ${String(value)}`);
  }
}
