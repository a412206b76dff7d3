/**
 * Test helpers for KL estimators: a seeded JavaScript RNG, small categorical distributions with
 * exact KL divergences, seeded tensor makers, and a Monte Carlo check that an estimator averages
 * to the exact KL. Used by this package's tests and meant for users testing their own estimators.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KlEstimator } from '../types.js';

/** A seeded uniform RNG on [0, 1) (`@covrl/utils`' mulberry32): the same seed, the same stream. */
export { mulberry32 } from '@covrl/utils';
export { leakedTensors, numericGradient } from '@covrl/utils/testing';
import { mulberry32 } from '@covrl/utils';

/** A standard normal draw from a uniform RNG (Box–Muller). */
export function normal(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A categorical distribution over `probs.length` tokens with its exact log-probabilities. */
export interface Categorical {
  readonly probs: readonly number[];
  readonly logProbs: readonly number[];
  /** Draws one token index with the given RNG (inverse CDF). */
  sample(rng: () => number): number;
}

/**
 * Builds a {@link Categorical} from non-negative weights (normalised here).
 * @throws Error naming `categorical` when a weight is negative or not finite, or all are zero.
 */
export function categorical(weights: readonly number[]): Categorical {
  const total = weights.reduce((s, x) => s + x, 0);
  if (
    weights.length === 0 ||
    weights.some((x) => !(x >= 0) || !Number.isFinite(x)) ||
    !(total > 0)
  ) {
    throw new Error('categorical: weights must be finite, non-negative and not all zero');
  }
  const probs = weights.map((x) => x / total);
  const logProbs = probs.map((p) => Math.log(p));
  return {
    probs,
    logProbs,
    sample(rng) {
      const u = rng();
      let acc = 0;
      for (let i = 0; i < probs.length; i += 1) {
        acc += probs[i] ?? 0;
        if (u < acc) return i;
      }
      return probs.length - 1;
    },
  };
}

/** A random categorical over `size` tokens, every probability at least `floor / size`. */
export function randomCategorical(rng: () => number, size: number, floor = 0.05): Categorical {
  return categorical(Array.from({ length: size }, () => floor / size + rng()));
}

/** The token-wise mixture `w·p + (1−w)·q` of two categoricals over the same tokens. */
export function mixture(p: Categorical, q: Categorical, w: number): Categorical {
  return categorical(p.probs.map((pi, i) => w * pi + (1 - w) * (q.probs[i] ?? 0)));
}

/** Exact `KL(p‖q) = Σ p log(p/q)` (terms with p = 0 contribute 0). */
export function exactKl(p: Categorical, q: Categorical): number {
  return p.probs.reduce(
    (s, pi, i) => (pi > 0 ? s + pi * (Math.log(pi) - (q.logProbs[i] ?? 0)) : s),
    0,
  );
}

/** A seeded `[...shape]` float32 tensor, uniform on `[low, high)`. */
export function seededUniform(
  shape: readonly number[],
  seed: number,
  low = 0,
  high = 1,
): tf.Tensor {
  const rng = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => low + (high - low) * rng());
  return tf.tensor(values, [...shape], 'float32');
}

/** Seeded log-probabilities of sampled tokens: `log u` with u uniform on `[e^low, 1)`, default low −4. */
export function seededLogProbs(shape: readonly number[], seed: number, low = -4): tf.Tensor {
  return tf.tidy(() => tf.log(seededUniform(shape, seed, Math.exp(low), 1)));
}

/** A seeded `[...shape]` 0/1 tensor with P(1) = `probability`. */
export function seededBinary(shape: readonly number[], seed: number, probability = 0.5): tf.Tensor {
  const rng = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => (rng() < probability ? 1 : 0));
  return tf.tensor(values, [...shape], 'float32');
}

/** A seeded `[B, T]` right-padded mask: each row has between `minLength` and T ones. */
export function seededMask(rows: number, columns: number, seed: number, minLength = 1): tf.Tensor {
  const rng = mulberry32(seed);
  const values = new Float32Array(rows * columns);
  for (let b = 0; b < rows; b += 1) {
    const length = minLength + Math.floor(rng() * (columns - minLength + 1));
    for (let t = 0; t < length; t += 1) values[b * columns + t] = 1;
  }
  return tf.tensor(values, [rows, columns], 'float32');
}

/** Result of {@link monteCarloKl}. */
export interface MonteCarloResult {
  /** Mean of the per-token estimates over the samples. */
  readonly mean: number;
  /** Standard error of that mean (sample std / √n). */
  readonly standardError: number;
  /** The exact KL(p‖ref). */
  readonly exact: number;
}

/**
 * Draws `samples` tokens from `p` with a seeded RNG, evaluates `estimator` on their exact
 * log-probabilities (`logProbs` under p, `refLogProbs` under `ref`) and returns the mean, its
 * standard error and the exact KL(p‖ref). An unbiased estimator has `|mean − exact| < 3·SE` in
 * about 99.7 % of seeds. The mean and standard error are reduced on the backend
 * ({@link meanAndStandardError}); only those two numbers are read back.
 *
 * @throws Error naming `monteCarloKl` when `samples` is not a positive integer.
 */
export function monteCarloKl(x: {
  estimator: KlEstimator;
  p: Categorical;
  ref: Categorical;
  samples: number;
  seed: number;
}): MonteCarloResult {
  if (!Number.isInteger(x.samples) || x.samples < 1) {
    throw new Error(`monteCarloKl: samples must be a positive integer, got ${String(x.samples)}`);
  }
  const rng = mulberry32(x.seed);
  const tokens = Array.from({ length: x.samples }, () => x.p.sample(rng));
  const estimates = tf.tidy(() => {
    const logProbs = tf.tensor1d(tokens.map((k) => x.p.logProbs[k] ?? 0));
    const refLogProbs = tf.tensor1d(tokens.map((k) => x.ref.logProbs[k] ?? 0));
    return x.estimator({ logProbs, refLogProbs });
  });
  try {
    return { ...meanAndStandardError(estimates), exact: exactKl(x.p, x.ref) };
  } finally {
    estimates.dispose();
  }
}

/**
 * Mean and standard error (unbiased sample std / √n) of a tensor of estimates (any shape, every
 * element one sample) or of a list of numbers: `mean = Σ v / n`,
 * `SE = √(Σ (v − mean)² / (n − 1) / n)` (`n − 1` floored at 1, so one sample gives SE 0). A
 * tensor is reduced on the backend (in float32) and read back as two numbers; a list of numbers
 * is already on the host and is reduced there in float64 (so float64 values keep their precision).
 * The input is not disposed.
 *
 * @throws Error naming `meanAndStandardError` when `values` is empty (no mean exists).
 */
export function meanAndStandardError(values: tf.Tensor | ArrayLike<number>): {
  mean: number;
  standardError: number;
} {
  // Duck-typed like the package's guards (a tensor is told from a list by its fields). The
  // reduction itself runs on this module's tfjs-core engine, so the tensor must belong to it.
  const isTensor = 'dataSync' in values && 'shape' in values;
  const n = isTensor ? values.size : values.length;
  if (n === 0) throw new Error('meanAndStandardError: values must hold at least one sample');
  if (!isTensor) {
    let sum = 0;
    for (let i = 0; i < n; i += 1) sum += values[i] ?? 0;
    const mean = sum / n;
    let sumSquares = 0;
    for (let i = 0; i < n; i += 1) sumSquares += ((values[i] ?? 0) - mean) ** 2;
    return { mean, standardError: Math.sqrt(sumSquares / Math.max(n - 1, 1) / n) };
  }
  const [mean = NaN, standardError = NaN] = tf.tidy(() => {
    const v = tf.reshape(tf.cast(values, 'float32'), [-1]); // [n]
    const m = tf.mean(v);
    const sumSquares = tf.sum(tf.square(tf.sub(v, m)));
    const se = tf.sqrt(tf.div(sumSquares, Math.max(n - 1, 1) * n));
    return tf.stack([m, se]).dataSync();
  });
  return { mean, standardError };
}
