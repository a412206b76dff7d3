import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { clipFractions } from './clip-fractions.js';
import { leakedTensors, seededMask, seededUniform } from './testing/index.js';

describe('clipFractions', () => {
  it('matches the naive loop', () => {
    const logRatio = seededUniform(4, 6, 1, -0.5, 0.5);
    const advantages = tf.tensor1d([1, -1, 0, 2]);
    const mask = seededMask(4, 6, 2);
    const lr = logRatio.arraySync();
    const a = advantages.arraySync();
    const m = mask.arraySync();
    let total = 0;
    let clipped = 0;
    let high = 0;
    lr.forEach((row, b) =>
      row.forEach((x, t) => {
        if ((m[b]?.[t] ?? 0) === 0) return;
        const rho = Math.exp(x);
        const ab = a[b] ?? NaN;
        total += 1;
        const isHigh = ab > 0 && rho > 1.27;
        if (isHigh) high += 1;
        if (isHigh || (ab < 0 && rho < 0.8)) clipped += 1;
      }),
    );
    const got = clipFractions({ logRatio, advantages, mask, clipLow: 0.2, clipHigh: 0.27 });
    expect(high).toBeGreaterThan(0);
    expect(got.clipFraction).toBeCloseTo(clipped / total, 6);
    expect(got.clipHighFraction).toBeCloseTo(high / total, 6);
    tf.dispose([logRatio, advantages, mask]);
  });

  it('matches a hand-computed fixture and gives 0 for an empty mask', () => {
    const logRatio = tf.tensor2d([[Math.log(1.5), Math.log(0.5), 0, Math.log(1.5)]]);
    const advantages = tf.tensor2d([[1, -1, 1, -1]]);
    const mask = tf.tensor2d([[1, 1, 1, 1]]);
    expect(clipFractions({ logRatio, advantages, mask })).toEqual({
      clipFraction: 0.5,
      clipHighFraction: 0.25,
    });
    expect(clipFractions({ logRatio, advantages, mask: tf.zeros([1, 4]) })).toEqual({
      clipFraction: 0,
      clipHighFraction: 0,
    });
  });

  it('leaks no tensor and names itself on invalid input', () => {
    const logRatio = tf.zeros([2, 3]);
    const advantages = tf.zeros([2]);
    const mask = tf.ones([2, 3]);
    expect(
      leakedTensors(() => {
        clipFractions({ logRatio, advantages, mask });
        return [];
      }),
    ).toBe(0);
    expect(() => clipFractions({ logRatio, advantages, mask: tf.ones([3, 2]) })).toThrow(
      /^clipFractions: mask/,
    );
    expect(() => clipFractions({ logRatio, advantages: tf.zeros([5]), mask })).toThrow(
      /^clipFractions: advantages/,
    );
  });
});
