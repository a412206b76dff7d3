import * as tf from '@tensorflow/tfjs';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { covrlImportanceLogRatio } from './covrl-importance-log-ratio.js';
import { disposeBatch, randomCovrlBatch } from './testing/index.js';

const mix = (a: number, b: number, w: number): number =>
  Math.log(w * Math.exp(a) + (1 - w) * Math.exp(b));

describe('covrlImportanceLogRatio', () => {
  it('is exactly 0 at alpha = priorWeight = 0.5 with old == new (property)', () => {
    const logProb = fc.double({ min: -25, max: 0, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(logProb, logProb), { minLength: 1, maxLength: 10 }),
        (pairs) => {
          const values = tf.tidy(() => {
            const p = tf.tensor2d([pairs.map((x) => x[0])]);
            const q = tf.tensor2d([pairs.map((x) => x[1])]);
            return covrlImportanceLogRatio({
              priorLogProbs: p,
              posteriorLogProbs: q,
              oldPriorLogProbs: p,
              oldPosteriorLogProbs: q,
              alpha: 0.5,
            }).dataSync();
          });
          for (const v of values) expect(v).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('is exactly 0 at alpha = priorWeight with separate-but-equal old tensors (property)', () => {
    // Old and new log-probs come from different scoring passes: equal values, distinct tensors.
    const logProb = fc.double({ min: -25, max: 0, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(logProb, logProb), { minLength: 1, maxLength: 10 }),
        fc.constantFrom(0.5, 0.5, 0.3, 0.9, 0, 1),
        (pairs, w) => {
          const values = tf.tidy(() => {
            const prior = pairs.map((x) => x[0]);
            const posterior = pairs.map((x) => x[1]);
            return covrlImportanceLogRatio({
              priorLogProbs: tf.tensor2d([prior]),
              posteriorLogProbs: tf.tensor2d([posterior]),
              oldPriorLogProbs: tf.tensor2d([prior.slice()]),
              oldPosteriorLogProbs: tf.tensor2d([posterior.slice()]),
              alpha: w,
              priorWeight: w,
            }).dataSync();
          });
          for (const v of values) expect(v).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('has the gradient of the float64 formula w.r.t. all four inputs (finite differences)', () => {
    const batch = randomCovrlBatch({ batchSize: 2, traceLength: 3, seed: 8 });
    const names = [
      'priorLogProbs',
      'posteriorLogProbs',
      'oldPriorLogProbs',
      'oldPosteriorLogProbs',
    ] as const;
    const values = names.map((n) => Array.from(batch[n].dataSync()));
    for (const [alpha, w] of [
      [0.9, 0.5],
      [0.2, 0.7],
    ] as const) {
      const grads = tf.tidy(() =>
        tf
          .grads((p: tf.Tensor, q: tf.Tensor, op: tf.Tensor, oq: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.tensor2d([1, -2, 0.5, 3, -1, 0.25], [2, 3]), // generic weights per token
                covrlImportanceLogRatio({
                  priorLogProbs: p,
                  posteriorLogProbs: q,
                  oldPriorLogProbs: op,
                  oldPosteriorLogProbs: oq,
                  alpha,
                  priorWeight: w,
                }),
              ),
            ),
          )(names.map((n) => batch[n]))
          .map((g) => Array.from(g.dataSync())),
      );
      const weights = [1, -2, 0.5, 3, -1, 0.25];
      const f = (v: readonly (readonly number[])[]) =>
        weights.reduce((s, c, i) => {
          const [p, q, op, oq] = v.map((x) => x[i] ?? NaN) as [number, number, number, number];
          return s + c * (mix(p, q, w) - mix(op, oq, alpha));
        }, 0);
      values.forEach((x, k) => {
        const numeric = numericGradient((y) => f(values.map((v, j) => (j === k ? y : v))), x);
        numeric.forEach((g, i) => expect(grads[k]?.[i]).toBeCloseTo(g, 2));
      });
      // The new inputs' gradients are the component weights (sum to the token's weight).
      const total = (grads[0] ?? []).map((g, i) => g + (grads[1]?.[i] ?? NaN));
      total.forEach((g, i) => expect(g).toBeCloseTo(weights[i] ?? NaN, 5));
    }
    disposeBatch(batch);
  });

  it('follows the contract on infinite inputs: −∞, +∞ or the undefined 0/0, finite gradient', () => {
    const ninf = -Infinity;
    const x = {
      // token 0: new pair −∞; token 1: old pair −∞; token 2: both; token 3: ordinary
      priorLogProbs: tf.tensor2d([[ninf, -1, ninf, -1]]),
      posteriorLogProbs: tf.tensor2d([[ninf, -2, ninf, -2]]),
      oldPriorLogProbs: tf.tensor2d([[-1, ninf, ninf, -1.5]]),
      oldPosteriorLogProbs: tf.tensor2d([[-2, ninf, ninf, -0.5]]),
    };
    const [a, b, c, d] = covrlImportanceLogRatio({ ...x, alpha: 0.3 }).dataSync();
    expect(a).toBe(-Infinity); // the mixture of two −∞ is −∞ (was NaN), so log(0 / h) = −∞
    expect(b).toBe(Infinity);
    expect(c).toBeNaN(); // −∞ − (−∞): 0/0 has no value
    expect(d).toBeCloseTo(mix(-1, -2, 0.5) - mix(-1.5, -0.5, 0.3), 5);
    const grads = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(
        tf.where(
          tf.tensor2d([[1, 1, 0, 1]]).cast('bool'), // the undefined token is masked, as in a loss
          covrlImportanceLogRatio({ ...x, priorLogProbs: p, posteriorLogProbs: q, alpha: 0.3 }),
          tf.zeros([1, 4]),
        ),
      ),
    )([x.priorLogProbs, x.posteriorLogProbs]);
    for (const g of grads) for (const v of g.dataSync()) expect(Number.isFinite(v)).toBe(true);
    expect(Array.from(grads[0]?.dataSync() ?? []).slice(0, 1)).toEqual([0]);
    tf.dispose([...Object.values(x), ...grads]);
  });

  it('accepts empty tensors ([0, T] and [B, 0])', () => {
    for (const shape of [
      [0, 3],
      [2, 0],
    ]) {
      const out = tf.tidy(() =>
        covrlImportanceLogRatio({
          priorLogProbs: tf.zeros(shape),
          posteriorLogProbs: tf.zeros(shape),
          oldPriorLogProbs: tf.zeros(shape),
          oldPosteriorLogProbs: tf.zeros(shape),
          alpha: 0.4,
        }),
      );
      expect(out.shape).toEqual(shape);
      out.dispose();
    }
  });

  it('matches the naive formula for α ≠ w', () => {
    const batch = randomCovrlBatch({ batchSize: 3, traceLength: 4, seed: 5 });
    const out = covrlImportanceLogRatio({ ...batch, alpha: 0.9, priorWeight: 0.5 });
    const [p, q, op, oq] = [
      batch.priorLogProbs,
      batch.posteriorLogProbs,
      batch.oldPriorLogProbs,
      batch.oldPosteriorLogProbs,
    ].map((t) => t.dataSync());
    out.dataSync().forEach((v, i) => {
      const want =
        mix(p?.[i] ?? NaN, q?.[i] ?? NaN, 0.5) - mix(op?.[i] ?? NaN, oq?.[i] ?? NaN, 0.9);
      expect(v).toBeCloseTo(want, 4);
    });
    out.dispose();
    disposeBatch(batch);
  });

  it('ranges over [log 0.56, log 5]-like values at α = 0.9 before any update (spec §4 example)', () => {
    // q ≫ p: p′/h = (0.5p + 0.5q)/(0.9p + 0.1q) → 5; p ≫ q → 0.5/0.9 ≈ 0.56
    const p = tf.tensor2d([[Math.log(1e-6), Math.log(0.9)]]);
    const q = tf.tensor2d([[Math.log(0.9), Math.log(1e-6)]]);
    const out = covrlImportanceLogRatio({
      priorLogProbs: p,
      posteriorLogProbs: q,
      oldPriorLogProbs: p,
      oldPosteriorLogProbs: q,
      alpha: 0.9,
    });
    const [hi, lo] = out.dataSync();
    expect(Math.exp(hi ?? NaN)).toBeCloseTo(5, 3);
    expect(Math.exp(lo ?? NaN)).toBeCloseTo(0.5 / 0.9, 3);
  });

  it('leaks no tensor and throws naming the function and argument', () => {
    const batch = randomCovrlBatch({ batchSize: 2, traceLength: 3, seed: 6 });
    expect(leakedTensors(() => covrlImportanceLogRatio({ ...batch, alpha: 0.3 }))).toBe(0);
    expect(() => covrlImportanceLogRatio({ ...batch, alpha: 2 })).toThrow(
      /^covrlImportanceLogRatio: alpha/,
    );
    expect(() => covrlImportanceLogRatio({ ...batch, alpha: 0.5, priorWeight: -1 })).toThrow(
      /^covrlImportanceLogRatio: priorWeight/,
    );
    expect(() =>
      covrlImportanceLogRatio({ ...batch, alpha: 0.5, oldPosteriorLogProbs: tf.zeros([2, 4]) }),
    ).toThrow(/^covrlImportanceLogRatio: oldPosteriorLogProbs/);
    expect(() =>
      covrlImportanceLogRatio({ ...batch, alpha: 0.5, oldPriorLogProbs: tf.fill([2, 3], NaN) }),
    ).toThrow(/^covrlImportanceLogRatio: oldPriorLogProbs contains NaN/);
    disposeBatch(batch);
  });
});
