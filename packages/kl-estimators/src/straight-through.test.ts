import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { k1 } from './k1.js';
import { k2 } from './k2.js';
import { k3 } from './k3.js';
import { straightThrough } from './straight-through.js';
import { leakedTensors, seededLogProbs } from './testing/index.js';
import type { KlEstimator } from './types.js';

function valueAndGrads(estimator: KlEstimator, a: tf.Tensor, b: tf.Tensor) {
  return tf.tidy(() => {
    const value = Array.from(estimator({ logProbs: a, refLogProbs: b }).dataSync());
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(estimator({ logProbs: x, refLogProbs: y })),
    )([a, b]);
    return { value, ga: Array.from(ga?.dataSync() ?? []), gb: Array.from(gb?.dataSync() ?? []) };
  });
}

describe('straightThrough', () => {
  it("returns value's forward value bit for bit and grad's gradient", () => {
    const a = seededLogProbs([3, 4], 1);
    const b = seededLogProbs([3, 4], 2);
    for (const [value, grad] of [
      [k1, k2],
      [k3, k2],
      [k1, k3],
    ] as const) {
      const st = valueAndGrads(straightThrough(value, grad), a, b);
      const v = valueAndGrads(value, a, b);
      const g = valueAndGrads(grad, a, b);
      expect(st.value).toEqual(v.value);
      st.ga.forEach((x, i) => expect(x).toBeCloseTo(g.ga[i] ?? NaN, 6));
      st.gb.forEach((x, i) => expect(x).toBeCloseTo(g.gb[i] ?? NaN, 6));
    }
    tf.dispose([a, b]);
  });

  it('defaults grad to k2 (verl k1+)', () => {
    const a = tf.tensor1d([-0.1, -2]);
    const b = tf.tensor1d([-0.5, -0.3]);
    const st = valueAndGrads(straightThrough(k1), a, b);
    // value d = [0.4, −1.7]; gradient of ½d² w.r.t. logProbs is d
    expect(st.value[0]).toBeCloseTo(0.4, 6);
    expect(st.ga[0]).toBeCloseTo(0.4, 6);
    expect(st.ga[1]).toBeCloseTo(-1.7, 6);
    expect(st.gb[1]).toBeCloseTo(1.7, 6);
    tf.dispose([a, b]);
  });

  it("keeps value's forward value where grad overflows (no ∞ − ∞ = NaN)", () => {
    const a = tf.tensor1d([-100, -1]);
    const b = tf.tensor1d([0, -1.5]);
    const out = straightThrough(k1, k3)({ logProbs: a, refLogProbs: b });
    const values = out.dataSync();
    expect(values[0]).toBeCloseTo(-100, 4); // k3 = e^100 overflows to Infinity here
    expect(values[1]).toBeCloseTo(0.5, 6);
    tf.dispose([a, b, out]);
  });

  it('leaks no tensor, forward or backward', () => {
    const a = seededLogProbs([2, 3], 3);
    const b = seededLogProbs([2, 3], 4);
    const st = straightThrough(k3);
    expect(leakedTensors(() => st({ logProbs: a, refLogProbs: b }))).toBe(0);
    expect(
      leakedTensors(() =>
        tf.grads((x: tf.Tensor) => tf.sum(st({ logProbs: x, refLogProbs: b })))([a]),
      ),
    ).toBe(0);
    tf.dispose([a, b]);
  });

  it('throws naming the function and argument on invalid input', () => {
    expect(() => straightThrough(undefined as unknown as KlEstimator)).toThrow(
      /^straightThrough: value/,
    );
    expect(() => straightThrough(k1, 3 as unknown as KlEstimator)).toThrow(
      /^straightThrough: grad/,
    );
    const bad: KlEstimator = () => tf.zeros([5]);
    const a = tf.zeros([2]);
    expect(() => straightThrough(k1, bad)({ logProbs: a, refLogProbs: a })).toThrow(
      /^straightThrough: grad returned shape/,
    );
    a.dispose();
  });
});
