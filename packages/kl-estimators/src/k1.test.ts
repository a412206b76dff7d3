import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { elementwiseSuite } from './internal/estimator-suite.test.helpers.js';
import { k1 } from './k1.js';

describe('k1', () => {
  elementwiseSuite('k1', k1, (a, b) => a - b, { nonNegative: false, unbiased: true });

  it('matches a hand-computed fixture', () => {
    const out = k1({ logProbs: tf.tensor2d([[-1, -2]]), refLogProbs: tf.tensor2d([[-2, -1]]) });
    const expected = [[1, -1]];
    const got = out.arraySync() as number[][];
    expected[0]?.forEach((v, i) => expect(got[0]?.[i]).toBeCloseTo(v, 5));
    out.dispose();
  });
});
