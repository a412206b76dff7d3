import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { logMixture } from './log-mixture.js';

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('logMixture', () => {
  it('is log(w·e^a + (1−w)·e^b) (float64 reference)', () => {
    const a = [-0.5, -3, -20, -1e-3];
    const b = [-1.5, -0.2, -0.1, -7];
    const w = 0.3;
    const out = tf.tidy(() => values(logMixture(tf.tensor1d(a), tf.tensor1d(b), w)));
    a.forEach((ai, i) => {
      const ref = Math.log(w * Math.exp(ai) + (1 - w) * Math.exp(b[i]!));
      expect(out[i]).toBeCloseTo(ref, 5);
    });
  });

  it('returns a or b unchanged at w = 1 and w = 0, with zero gradient for the other', () => {
    const a = tf.tensor1d([-0.3, -2]);
    const b = tf.tensor1d([-1, -0.1]);
    expect(values(logMixture(a, b, 1))).toEqual(values(a));
    expect(values(logMixture(a, b, 0))).toEqual(values(b));
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(logMixture(x, y, 1)))([a, b]);
    expect(values(ga!)).toEqual([1, 1]);
    expect(values(gb!)).toEqual([0, 0]);
    tf.dispose([a, b, ga!, gb!]);
  });

  it('is exact on ties and at −∞ / +∞, with finite gradients', () => {
    const a = tf.tensor1d([-0.7, -Infinity, -Infinity, Infinity]);
    const b = tf.tensor1d([-0.7, -Infinity, -1, -1]);
    expect(values(logMixture(a, b, 0.37))).toEqual([
      Math.fround(-0.7),
      -Infinity,
      expect.closeTo(-1 + Math.log(0.63), 5),
      Infinity,
    ]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(logMixture(x, y, 0.37)))([
      a,
      b,
    ]);
    for (const g of [...values(ga!), ...values(gb!)]) expect(Number.isFinite(g)).toBe(true);
    expect(values(ga!)[0]! + values(gb!)[0]!).toBeCloseTo(1, 6);
    tf.dispose([a, b, ga!, gb!]);
  });

  it('refuses a weight outside [0, 1] by name', () => {
    const a = tf.tensor1d([-1]);
    for (const w of [-0.1, 1.5, Number.NaN, Infinity]) {
      expect(() => logMixture(a, a, w)).toThrow(
        /logMixture: weight must be a finite number in \[0, 1\]/,
      );
    }
    a.dispose();
  });

  it('leaks no tensor', () => {
    const a = tf.tensor1d([-1, -2]);
    const before = tf.memory().numTensors;
    logMixture(a, a, 0.5).dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
