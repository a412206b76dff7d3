import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { elementwiseSuite } from './internal/estimator-suite.test.helpers.js';
import { abs } from './abs.js';

describe('abs', () => {
  elementwiseSuite('abs', abs, (a, b) => Math.abs(a - b), { nonNegative: true });

  it('matches a hand-computed fixture', () => {
    const out = abs({ logProbs: tf.tensor2d([[-1, -2]]), refLogProbs: tf.tensor2d([[-2, -1]]) });
    const expected = [[1, 1]];
    const got = out.arraySync() as number[][];
    expected[0]?.forEach((v, i) => expect(got[0]?.[i]).toBeCloseTo(v, 5));
    out.dispose();
  });
});
