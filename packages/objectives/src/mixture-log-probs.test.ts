import * as tf from '@tensorflow/tfjs';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mixtureLogProbs } from './mixture-log-probs.js';
import { mulberry32 } from './testing/index.js';

const oracle = (a: number, b: number, w: number): number =>
  Math.log(w * Math.exp(a) + (1 - w) * Math.exp(b));

describe('mixtureLogProbs', () => {
  it('matches the naive formula on seeded inputs, including far-apart log-probs', () => {
    const rng = mulberry32(1);
    const a = Array.from({ length: 12 }, () => -30 * rng());
    const b = Array.from({ length: 12 }, () => -30 * rng());
    for (const w of [0.5, 0.1, 0.9]) {
      const got = tf.tidy(() =>
        Array.from(
          mixtureLogProbs({
            logProbsA: tf.tensor2d(a, [3, 4]),
            logProbsB: tf.tensor2d(b, [3, 4]),
            weightA: w,
          }).dataSync(),
        ),
      );
      a.forEach((ai, i) => expect(got[i]).toBeCloseTo(oracle(ai, b[i] ?? NaN, w), 4));
    }
  });

  it('is exact at weightA 0 and 1 and never NaN there, even with −∞ inputs', () => {
    const a = tf.tensor2d([[-1.25, -Infinity]]);
    const b = tf.tensor2d([[-Infinity, -0.5]]);
    expect(
      Array.from(mixtureLogProbs({ logProbsA: a, logProbsB: b, weightA: 1 }).dataSync()),
    ).toEqual([-1.25, -Infinity]);
    expect(
      Array.from(mixtureLogProbs({ logProbsA: a, logProbsB: b, weightA: 0 }).dataSync()),
    ).toEqual([-Infinity, -0.5]);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(mixtureLogProbs({ logProbsA: x, logProbsB: y, weightA: 1 })),
    )([tf.tensor1d([-1, -2]), tf.tensor1d([-3, -4])]);
    expect(Array.from(g[0]?.dataSync() ?? [])).toEqual([1, 1]);
    expect(Array.from(g[1]?.dataSync() ?? [])).toEqual([0, 0]);
  });

  it('gives −∞ (not NaN) where both inputs are −∞ at 0 < weightA < 1, with a zero gradient', () => {
    // Max-shift guard: m = max(a′, b′) = −∞ made the shift compute −∞ − (−∞) = NaN.
    const a = tf.tensor1d([-Infinity, -Infinity, -1, -Infinity, Infinity]);
    const b = tf.tensor1d([-Infinity, -2, -Infinity, -Infinity, -3]);
    for (const w of [0.5, 0.3, 1e-6, 1 - 1e-6]) {
      const got = Array.from(
        mixtureLogProbs({ logProbsA: a, logProbsB: b, weightA: w }).dataSync(),
      );
      expect(got[0]).toBe(-Infinity);
      expect(got[1]).toBeCloseTo(Math.fround(-2 + Math.log1p(-w)), 5);
      expect(got[2]).toBeCloseTo(Math.fround(-1 + Math.log(w)), 5);
      expect(got[3]).toBe(-Infinity);
      expect(got[4]).toBe(Infinity); // logAddExp(+∞, x) = +∞
      const [ga, gb] = tf
        .grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(mixtureLogProbs({ logProbsA: x, logProbsB: y, weightA: w })),
        )([a, b])
        .map((g) => Array.from(g.dataSync()));
      // Finite everywhere: 0 where both are −∞ (or an input is +∞), the exact weight elsewhere.
      expect(ga).toEqual([0, 0, 1, 0, 0]);
      expect(gb).toEqual([0, 1, 0, 0, 0]);
    }
    tf.dispose([a, b]);
  });

  it('leaves finite inputs bit for bit as the unguarded formula computes them', () => {
    const rng = mulberry32(9);
    const a = tf.tensor1d(Array.from({ length: 64 }, () => -30 * rng()));
    const b = tf.tensor1d(Array.from({ length: 64 }, () => -30 * rng()));
    for (const w of [0.5, 0.1, 0.9]) {
      const want = tf.tidy(() => {
        const aw = tf.add(a, Math.log(w));
        const bw = tf.add(b, Math.log1p(-w));
        const m = tf.maximum(aw, bw);
        return Array.from(
          tf.add(m, tf.log(tf.add(tf.exp(tf.sub(aw, m)), tf.exp(tf.sub(bw, m))))).dataSync(),
        );
      });
      const got = tf.tidy(() =>
        Array.from(mixtureLogProbs({ logProbsA: a, logProbsB: b, weightA: w }).dataSync()),
      );
      expect(got).toEqual(want);
    }
    tf.dispose([a, b]);
  });

  it('equals the input when both components agree (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -20, max: 0, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (l, w) => {
          const v = tf.tidy(
            () =>
              mixtureLogProbs({
                logProbsA: tf.tensor1d([l]),
                logProbsB: tf.tensor1d([l]),
                weightA: w,
              }).dataSync()[0],
          );
          expect(v).toBeCloseTo(Math.fround(l), 5);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('has the exact gradient, ties included (finite differences)', () => {
    const a = [-1, -2, -0.5, -3];
    const b = [-1, -0.3, -4, -3];
    const w = 0.3;
    const [ga, gb] = tf.tidy(() =>
      tf
        .grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(mixtureLogProbs({ logProbsA: x, logProbsB: y, weightA: w })),
        )([tf.tensor1d(a), tf.tensor1d(b)])
        .map((g) => Array.from(g.dataSync())),
    );
    const f = (x: readonly number[], y: readonly number[]) =>
      x.reduce((s, xi, i) => s + oracle(xi, y[i] ?? NaN, w), 0);
    numericGradient((x) => f(x, b), a).forEach((v, i) => expect(ga?.[i]).toBeCloseTo(v, 3));
    numericGradient((y) => f(a, y), b).forEach((v, i) => expect(gb?.[i]).toBeCloseTo(v, 3));
    expect(ga?.[0]).toBeCloseTo(0.3, 5); // tie: gradient is the component weight, not 1 or 0
  });

  it('leaks no tensor and throws naming the function and argument', () => {
    const a = tf.zeros([2, 2]);
    expect(leakedTensors(() => mixtureLogProbs({ logProbsA: a, logProbsB: a, weightA: 0.4 }))).toBe(
      0,
    );
    expect(leakedTensors(() => mixtureLogProbs({ logProbsA: a, logProbsB: a, weightA: 1 }))).toBe(
      0,
    );
    expect(() =>
      mixtureLogProbs({ logProbsA: a, logProbsB: tf.zeros([2, 3]), weightA: 0.5 }),
    ).toThrow(/^mixtureLogProbs: logProbsB/);
    expect(() => mixtureLogProbs({ logProbsA: a, logProbsB: a, weightA: 1.2 })).toThrow(
      /^mixtureLogProbs: weightA/,
    );
    expect(() =>
      mixtureLogProbs({ logProbsA: tf.tensor1d([NaN]), logProbsB: tf.tensor1d([0]), weightA: 0.5 }),
    ).toThrow(/^mixtureLogProbs: logProbsA contains NaN/);
  });
});
