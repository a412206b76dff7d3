/**
 * Masked tensor helpers for the losses (call inside the caller's `tf.tidy`). Masked positions are
 * selected away with `where`, never multiplied, so NaN/∞ there cannot leak into values or
 * gradients.
 */
import * as tf from '@tensorflow/tfjs-core';

/** `x` with padding (mask ≤ 0) replaced by exactly 0; the gradient at padding is 0. */
export function zeroPadding(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.where(tf.greater(mask, 0), x, tf.zerosLike(x));
}

/** `[B]` → `[B, 1]`, broadcastable against `[B, T]`. */
export function perRow(x: tf.Tensor): tf.Tensor {
  return tf.expandDims(x, 1);
}

/** Mask-weighted mean; 0 when the mask is empty. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const total = tf.sum(mask);
  const sum = tf.sum(tf.mul(zeroPadding(x, mask), mask));
  return tf.div(sum, tf.maximum(total, 1e-30));
}

/** Maximum over real positions; 0 when the mask is empty. */
export function maskedMax(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const real = tf.greater(mask, 0);
  const m = tf.max(tf.where(real, x, tf.fill(x.shape, -Infinity)));
  return tf.where(tf.any(real), m, tf.scalar(0));
}

/** Minimum over real positions; 0 when the mask is empty. */
export function maskedMin(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.neg(maskedMax(tf.neg(x), mask));
}

/**
 * Reads named scalars back in one transfer: `[name, scalar][]` → `{ name: number }`. The values
 * are plain numbers, detached from any gradient tape.
 */
export function readScalars(
  entries: readonly (readonly [string, tf.Tensor])[],
): Record<string, number> {
  if (entries.length === 0) return {};
  const values = tf.tidy(() => tf.stack(entries.map(([, t]) => tf.reshape(t, []))).dataSync());
  const out: Record<string, number> = {};
  entries.forEach(([name], i) => {
    out[name] = values[i] ?? NaN;
  });
  return out;
}
