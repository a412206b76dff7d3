import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { elementwiseSuite } from './internal/estimator-suite.test.helpers.js';
import { k3 } from './k3.js';
import { lowVarKl } from './low-var-kl.js';

const oracle = (a: number, b: number): number => {
  const u = Math.min(20, Math.max(-20, b - a));
  return Math.min(10, Math.max(-10, Math.exp(u) - u - 1));
};

describe('lowVarKl', () => {
  elementwiseSuite('lowVarKl', lowVarKl, oracle, { nonNegative: true });

  it('equals k3 inside the clips and is capped at 10 outside', () => {
    const logProbs = tf.tensor1d([-1, -2, -40, -0.5]);
    const refLogProbs = tf.tensor1d([-1.5, -1, -1, -60]);
    const low = lowVarKl({ logProbs, refLogProbs });
    const exact = k3({ logProbs, refLogProbs });
    const got = low.dataSync();
    const want = exact.dataSync();
    expect(got[0]).toBeCloseTo(want[0] ?? NaN, 6);
    expect(got[1]).toBeCloseTo(want[1] ?? NaN, 6);
    expect(got[2]).toBe(10); // d = −39: u = 39 → clipped to 20, value capped at 10
    expect(got[3]).toBe(10); // d = 59.5: u = −20 → e^−20 + 19, capped at 10
    tf.dispose([logProbs, refLogProbs, low, exact]);
  });

  it('has zero gradient where a clip binds', () => {
    const g = tf.grad((x: tf.Tensor) =>
      tf.sum(lowVarKl({ logProbs: x, refLogProbs: tf.tensor1d([-1, -1]) })),
    )(tf.tensor1d([-40, -1.2]));
    const values = g.dataSync();
    expect(Math.abs(values[0] ?? NaN)).toBe(0);
    expect(values[1]).not.toBe(0);
  });
});
