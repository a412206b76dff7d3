import * as tf from '@tensorflow/tfjs';
import { leakedTensors } from '@covrl/kl-estimators/testing';
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
