import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { elementwiseSuite } from './internal/estimator-suite.test.helpers.js';
import { k2 } from './k2.js';

describe('k2', () => {
  elementwiseSuite('k2', k2, (a, b) => 0.5 * (a - b) ** 2, { nonNegative: true });

  it('matches a hand-computed fixture', () => {
    const out = k2({ logProbs: tf.tensor2d([[-1, -3]]), refLogProbs: tf.tensor2d([[-2, -1]]) });
    const expected = [[0.5, 2]];
    const got = out.arraySync() as number[][];
    expected[0]?.forEach((v, i) => expect(got[0]?.[i]).toBeCloseTo(v, 5));
    out.dispose();
  });
});
