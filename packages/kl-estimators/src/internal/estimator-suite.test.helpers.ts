/** Shared test suite for the elementwise estimators (test-only; not exported). */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import {
  leakedTensors,
  monteCarloKl,
  mulberry32,
  numericGradient,
  randomCategorical,
  seededLogProbs,
} from '../testing/index.js';
import type { KlEstimator } from '../types.js';

/** Runs the oracle, shape, NaN, leak and gradient checks for one estimator. */
export function elementwiseSuite(
  name: string,
  estimator: KlEstimator,
  oracle: (logProbs: number, refLogProbs: number) => number,
  options: { nonNegative: boolean; unbiased?: boolean },
): void {
  it('matches the naive loop on seeded random inputs', () => {
    for (const seed of [1, 2, 3]) {
      const logProbs = seededLogProbs([4, 7], seed);
      const refLogProbs = seededLogProbs([4, 7], seed + 100);
      const out = estimator({ logProbs, refLogProbs });
      expect(out.shape).toEqual([4, 7]);
      const a = logProbs.dataSync();
      const b = refLogProbs.dataSync();
      const got = out.dataSync();
      for (let i = 0; i < a.length; i += 1) {
        expect(got[i]).toBeCloseTo(oracle(a[i] ?? 0, b[i] ?? 0), 4);
      }
      tf.dispose([logProbs, refLogProbs, out]);
    }
  });

  it('is zero when the policies agree', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 0, noNaN: true }), { minLength: 1, maxLength: 12 }),
        (xs) => {
          const values = tf.tidy(() => {
            const t = tf.tensor1d(xs);
            return estimator({ logProbs: t, refLogProbs: t }).dataSync();
          });
          for (const v of values) expect(Math.abs(v)).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 30 },
    );
  });

  if (options.nonNegative) {
    it('is non-negative for every pair of log-probs', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(
              fc.double({ min: -15, max: 0, noNaN: true }),
              fc.double({ min: -15, max: 0, noNaN: true }),
            ),
            {
              minLength: 1,
              maxLength: 12,
            },
          ),
          (pairs) => {
            const values = tf.tidy(() =>
              estimator({
                logProbs: tf.tensor1d(pairs.map((p) => p[0])),
                refLogProbs: tf.tensor1d(pairs.map((p) => p[1])),
              }).dataSync(),
            );
            for (const v of values) expect(v).toBeGreaterThanOrEqual(-1e-6);
          },
        ),
        { numRuns: 30 },
      );
    });
  }

  if (options.unbiased) {
    it('averages to the exact KL(p‖ref) of small categoricals (Monte Carlo, 3 standard errors)', () => {
      for (const seed of [1, 2, 3]) {
        const rng = mulberry32(seed);
        const p = randomCategorical(rng, 5);
        const ref = randomCategorical(rng, 5);
        const { mean, standardError, exact } = monteCarloKl({
          estimator,
          p,
          ref,
          samples: 20000,
          seed: seed + 10,
        });
        expect(exact).toBeGreaterThan(0.01);
        expect(Math.abs(mean - exact)).toBeLessThan(3 * standardError);
      }
    });
  }

  it('has the gradient of its formula (finite differences of the float64 oracle)', () => {
    const rng = mulberry32(7);
    const a = Array.from({ length: 6 }, () => -3 * rng());
    const b = Array.from({ length: 6 }, () => -3 * rng());
    const [ga, gb] = tf.tidy(() =>
      tf
        .grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(estimator({ logProbs: x, refLogProbs: y })))([
          tf.tensor1d(a),
          tf.tensor1d(b),
        ])
        .map((g) => Array.from(g.dataSync())),
    );
    const sum = (x: readonly number[], y: readonly number[]): number =>
      x.reduce((s, xi, i) => s + oracle(xi, y[i] ?? 0), 0);
    const na = numericGradient((x) => sum(x, b), a);
    const nb = numericGradient((y) => sum(a, y), b);
    for (let i = 0; i < a.length; i += 1) {
      expect(ga?.[i]).toBeCloseTo(na[i] ?? NaN, 2);
      expect(gb?.[i]).toBeCloseTo(nb[i] ?? NaN, 2);
    }
  });

  it('leaks no tensor', () => {
    const logProbs = seededLogProbs([3, 5], 11);
    const refLogProbs = seededLogProbs([3, 5], 12);
    expect(leakedTensors(() => estimator({ logProbs, refLogProbs }))).toBe(0);
    tf.dispose([logProbs, refLogProbs]);
  });

  it('throws naming the function and argument on invalid input', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([3, 2]);
    const nan = tf.tensor2d([[0, NaN, 0]]);
    const ok = tf.zeros([1, 3]);
    expect(() => estimator({ logProbs: a, refLogProbs: b })).toThrow(
      new RegExp(`^${name}: refLogProbs`),
    );
    expect(() => estimator({ logProbs: nan, refLogProbs: ok })).toThrow(
      new RegExp(`^${name}: logProbs.*NaN`),
    );
    expect(() => estimator({ logProbs: ok, refLogProbs: nan })).toThrow(
      new RegExp(`^${name}: refLogProbs.*NaN`),
    );
    tf.dispose([a, b, nan, ok]);
  });
}
