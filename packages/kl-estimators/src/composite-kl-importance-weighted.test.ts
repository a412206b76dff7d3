import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compositeKl } from './composite-kl.js';
import { compositeKlImportanceWeighted } from './composite-kl-importance-weighted.js';
import { importanceWeightedOracle } from './internal/composite-oracle.test.helpers.js';
import { compositeSuite } from './internal/composite-suite.test.helpers.js';
import { seededBinary, seededLogProbs } from './testing/index.js';

describe('compositeKlImportanceWeighted', () => {
  compositeSuite(
    'compositeKlImportanceWeighted',
    compositeKlImportanceWeighted,
    importanceWeightedOracle,
  );

  it('equals compositeKl at w = 0.5', () => {
    const input = {
      priorLogProbs: seededLogProbs([4, 5], 1),
      posteriorLogProbs: seededLogProbs([4, 5], 2),
      sampledFromPrior: seededBinary([4], 3),
    };
    const a = compositeKlImportanceWeighted(input).dataSync();
    const b = compositeKl(input).dataSync();
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i] ?? NaN, 5));
    tf.dispose(Object.values(input));
  });

  it('is non-negative at every weight', () => {
    const logProb = fc.double({ min: -12, max: 0, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(logProb, logProb), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (pairs, w) => {
          const values = tf.tidy(() =>
            compositeKlImportanceWeighted({
              priorLogProbs: tf.tensor2d([pairs.map((x) => x[0])]),
              posteriorLogProbs: tf.tensor2d([pairs.map((x) => x[1])]),
              sampledFromPrior: tf.tensor1d([0]),
              priorWeight: w,
            }).dataSync(),
          );
          for (const v of values) expect(v).toBeGreaterThanOrEqual(-1e-6);
        },
      ),
      { numRuns: 40 },
    );
  });
});
