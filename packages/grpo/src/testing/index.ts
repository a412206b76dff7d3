/**
 * Test helpers for code built on `@covrl/grpo`: a seeded RNG and makers of rewards, masks,
 * log-ratios and advantages with known structure (contiguous groups, right padding).
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';

/** A seeded uniform RNG on [0, 1) (`@covrl/utils`' mulberry32). */
export { mulberry32 } from '@covrl/utils';
export { leakedTensors, numericGradient } from '@covrl/utils/testing';
import { mulberry32 } from '@covrl/utils';

/** Seeded rewards as plain numbers: `'binary'` (0/1, like a verifier), `'uniform'` on [0, 1), or `'normal'`. */
export function seededRewardValues(
  length: number,
  seed: number,
  kind: 'binary' | 'uniform' | 'normal' = 'uniform',
): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length }, () => {
    if (kind === 'binary') return rng() < 0.5 ? 1 : 0;
    if (kind === 'uniform') return rng();
    const u = Math.max(rng(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  });
}

/** Seeded `[groups·groupSize]` rewards tensor, groups contiguous. */
export function seededRewards(x: {
  groups: number;
  groupSize: number;
  seed: number;
  kind?: 'binary' | 'uniform' | 'normal';
}): tf.Tensor1D {
  return tf.tensor1d(seededRewardValues(x.groups * x.groupSize, x.seed, x.kind ?? 'uniform'));
}

/** Seeded `[rows, columns]` float32 tensor, uniform on `[low, high)`. */
export function seededUniform(
  rows: number,
  columns: number,
  seed: number,
  low = 0,
  high = 1,
): tf.Tensor2D {
  const rng = mulberry32(seed);
  const values = Float32Array.from({ length: rows * columns }, () => low + (high - low) * rng());
  return tf.tensor2d(values, [rows, columns]);
}

/** Seeded `[rows, columns]` right-padded 0/1 mask with row lengths in `[minLength, columns]`. */
export function seededMask(
  rows: number,
  columns: number,
  seed: number,
  minLength = 1,
): tf.Tensor2D {
  const rng = mulberry32(seed);
  const values = new Float32Array(rows * columns);
  for (let b = 0; b < rows; b += 1) {
    const length = minLength + Math.floor(rng() * (columns - minLength + 1));
    for (let t = 0; t < length; t += 1) values[b * columns + t] = 1;
  }
  return tf.tensor2d(values, [rows, columns]);
}
