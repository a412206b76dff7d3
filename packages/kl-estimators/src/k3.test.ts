import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { elementwiseSuite } from './internal/estimator-suite.test.helpers.js';
import { k3 } from './k3.js';

describe('k3', () => {
  elementwiseSuite('k3', k3, (a, b) => Math.exp(b - a) + (a - b) - 1, {
    nonNegative: true,
    unbiased: true,
  });

  it('matches a hand-computed fixture', () => {
    const out = k3({ logProbs: tf.tensor2d([[-1, -3]]), refLogProbs: tf.tensor2d([[-2, -1]]) });
    const expected = [[Math.exp(-1), Math.exp(2) - 3]];
    const got = out.arraySync() as number[][];
    expected[0]?.forEach((v, i) => expect(got[0]?.[i]).toBeCloseTo(v, 5));
    out.dispose();
  });
});
