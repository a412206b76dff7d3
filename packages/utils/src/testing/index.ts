/**
 * Test helpers shared by the covrl packages' own `/testing` subpaths (which re-export them):
 * finite-difference gradients and a tensor-leak counter.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Central finite differences of a float64 JavaScript function: `∂f/∂x_i ≈ (f(x + εe_i) −
 * f(x − εe_i)) / 2ε`. Compare with a TF.js gradient at relative tolerance ~1e-2 in float32.
 *
 * @param f - the function of a vector.
 * @param x - the point.
 * @param epsilon - the step ε; default 1e-4.
 * @returns the gradient estimate, one entry per coordinate of `x`.
 */
export function numericGradient(
  f: (x: readonly number[]) => number,
  x: readonly number[],
  epsilon = 1e-4,
): number[] {
  return x.map((_, i) => {
    const up = [...x];
    const down = [...x];
    up[i] = (up[i] ?? 0) + epsilon;
    down[i] = (down[i] ?? 0) - epsilon;
    return (f(up) - f(down)) / (2 * epsilon);
  });
}

/** Runs `fn`, disposes its result, returns how many tensors it left behind (0 when leak-free). */
export function leakedTensors(fn: () => tf.TensorContainer): number {
  const before = tf.memory().numTensors;
  tf.dispose(fn());
  return tf.memory().numTensors - before;
}
