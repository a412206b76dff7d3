import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { k3 } from '../k3.js';
import {
  categorical,
  leakedTensors,
  meanAndStandardError,
  monteCarloKl,
  mulberry32,
  normal,
} from './index.js';

/** Float64 naive loop: mean and unbiased standard error of the mean. */
function naive(values: readonly number[]): { mean: number; standardError: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, standardError: Math.sqrt(ss / Math.max(n - 1, 1) / n) };
}

describe('meanAndStandardError', () => {
  it('matches the naive loop for a tensor of any shape and for a list of numbers', () => {
    const rng = mulberry32(3);
    const values = Array.from({ length: 600 }, () => 2 + 3 * normal(rng));
    const want = naive(values);
    const tensor = tf.tensor2d(values, [20, 30]);
    for (const got of [meanAndStandardError(tensor), meanAndStandardError(values)]) {
      expect(got.mean).toBeCloseTo(want.mean, 5);
      expect(got.standardError).toBeCloseTo(want.standardError, 6);
    }
    expect(tensor.isDisposed).toBe(false);
    expect(leakedTensors(() => (meanAndStandardError(tensor), []))).toBe(0);
    tensor.dispose();
  });

  it('keeps float64 for a list of numbers (exactly the naive loop), float32 only for a tensor', () => {
    // 1 + 2^-30 has no float32 value (it rounds to 1): a float32 reduction would give mean 1, SE 0.
    const values = [1 + 2 ** -30, 1 + 3 * 2 ** -30, 1 + 2 ** -28];
    expect(meanAndStandardError(values)).toEqual(naive(values));
    expect(meanAndStandardError(Float64Array.from(values))).toEqual(naive(values));
    expect(meanAndStandardError(values).standardError).toBeGreaterThan(0);
    const tensor = tf.tensor1d(values);
    expect(meanAndStandardError(tensor)).toEqual({ mean: 1, standardError: 0 });
    tensor.dispose();
  });

  it('gives SE 0 for one sample and throws naming the function for none', () => {
    expect(meanAndStandardError([4])).toEqual({ mean: 4, standardError: 0 });
    expect(() => meanAndStandardError([])).toThrow(/^meanAndStandardError: values/);
    expect(() => meanAndStandardError(tf.tensor1d([]))).toThrow(/^meanAndStandardError: values/);
  });
});

describe('monteCarloKl', () => {
  it('averages k3 to the exact KL within 3 SE, leaks nothing and validates samples', () => {
    const p = categorical([0.5, 0.3, 0.2]);
    const ref = categorical([0.2, 0.3, 0.5]);
    let result: ReturnType<typeof monteCarloKl> | undefined;
    expect(
      leakedTensors(() => {
        result = monteCarloKl({ estimator: k3, p, ref, samples: 5000, seed: 8 });
        return [];
      }),
    ).toBe(0);
    const { mean = NaN, standardError = NaN, exact = NaN } = result ?? {};
    expect(exact).toBeCloseTo(0.5 * Math.log(2.5) + 0.2 * Math.log(0.4), 12);
    expect(standardError).toBeGreaterThan(0);
    expect(Math.abs(mean - exact)).toBeLessThan(3 * standardError);
    expect(() => monteCarloKl({ estimator: k3, p, ref, samples: 0, seed: 1 })).toThrow(
      /^monteCarloKl: samples/,
    );
  });
});
