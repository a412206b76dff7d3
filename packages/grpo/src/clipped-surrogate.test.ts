import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { clippedSurrogate } from './clipped-surrogate.js';
import { policyGradientSurrogate } from './policy-gradient-surrogate.js';
import { leakedTensors, mulberry32, numericGradient, seededUniform } from './testing/index.js';

/** Naive per-token oracle in float64. */
function oracle(logRatio: number, a: number, low: number, high: number): number {
  const rho = Math.exp(logRatio);
  return Math.max(-a * rho, -a * Math.min(1 + high, Math.max(1 - low, rho)));
}

describe('clippedSurrogate', () => {
  it('matches the naive loop with [B] and [B, T] advantages', () => {
    const logRatio = seededUniform(4, 6, 1, -0.6, 0.6);
    const advRows = tf.tensor1d([1.5, -0.7, 0, 2]);
    const advTokens = seededUniform(4, 6, 2, -2, 2);
    const lr = logRatio.arraySync();
    for (const [adv, low, high] of [
      [advRows, 0.2, 0.27],
      [advTokens, 0.3, 0.3],
    ] as const) {
      const out = clippedSurrogate({ logRatio, advantages: adv, clipLow: low, clipHigh: high });
      expect(out.shape).toEqual([4, 6]);
      const got = out.arraySync() as number[][];
      const a = adv.arraySync() as number[] | number[][];
      lr.forEach((row, b) =>
        row.forEach((x, t) => {
          const ab = a[b];
          const at = Array.isArray(ab) ? (ab[t] ?? NaN) : (ab ?? NaN);
          expect(got[b]?.[t]).toBeCloseTo(oracle(x, at, low, high), 5);
        }),
      );
      out.dispose();
    }
    tf.dispose([logRatio, advRows, advTokens]);
  });

  it('broadcasts [B] advantages exactly like the tiled [B, T] tensor', () => {
    const logRatio = seededUniform(3, 5, 3, -1, 1);
    const rows = tf.tensor1d([1, -2, 0.5]);
    const tiled = tf.tile(tf.expandDims(rows, 1), [1, 5]);
    const a = clippedSurrogate({ logRatio, advantages: rows }).dataSync();
    const b = clippedSurrogate({ logRatio, advantages: tiled }).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    tf.dispose([logRatio, rows, tiled]);
  });

  it('matches a hand-computed fixture (defaults clipLow = clipHigh = 0.2)', () => {
    const out = clippedSurrogate({
      logRatio: tf.tensor2d([[Math.log(1.5), Math.log(0.5), Math.log(1.1)]]),
      advantages: tf.tensor1d([2]),
    });
    // A = 2: ρ = 1.5 → max(−3, −2.4) = −2.4; ρ = 0.5 → max(−1, −1.6) = −1; ρ = 1.1 → −2.2
    const got = out.dataSync();
    [-2.4, -1, -2.2].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    out.dispose();
  });

  it('has the gradient of its formula (finite differences, away from the clip kinks)', () => {
    const rng = mulberry32(4);
    const lr = Array.from({ length: 8 }, () => {
      let v = 0;
      do v = 1.2 * (rng() - 0.5);
      while (Math.abs(Math.exp(v) - 0.8) < 0.02 || Math.abs(Math.exp(v) - 1.27) < 0.02);
      return v;
    });
    const adv = [1, -1];
    const g = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) =>
            tf.sum(clippedSurrogate({ logRatio: x, advantages: tf.tensor1d(adv), clipHigh: 0.27 })),
          )(tf.tensor2d(lr, [2, 4]))
          .dataSync(),
      ),
    );
    const total = (x: readonly number[]) =>
      x.reduce((s, v, i) => s + oracle(v, adv[Math.floor(i / 4)] ?? NaN, 0.2, 0.27), 0);
    numericGradient(total, lr).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 2));
  });

  it('leaks no tensor', () => {
    const logRatio = seededUniform(2, 3, 5);
    const advantages = tf.tensor1d([1, -1]);
    expect(leakedTensors(() => clippedSurrogate({ logRatio, advantages }))).toBe(0);
    expect(leakedTensors(() => policyGradientSurrogate({ logRatio, advantages }))).toBe(0);
    tf.dispose([logRatio, advantages]);
  });

  it('throws naming the function and argument on invalid input', () => {
    const logRatio = tf.zeros([2, 3]);
    expect(() => clippedSurrogate({ logRatio, advantages: tf.zeros([3]) })).toThrow(
      /^clippedSurrogate: advantages has shape \[3\]/,
    );
    expect(() => clippedSurrogate({ logRatio, advantages: tf.zeros([2, 4]) })).toThrow(
      /^clippedSurrogate: advantages/,
    );
    expect(() => clippedSurrogate({ logRatio: tf.zeros([6]), advantages: tf.zeros([6]) })).toThrow(
      /^clippedSurrogate: logRatio/,
    );
    expect(() => clippedSurrogate({ logRatio, advantages: tf.tensor1d([1, NaN]) })).toThrow(
      /^clippedSurrogate: advantages.*NaN/,
    );
    expect(() =>
      clippedSurrogate({ logRatio: tf.fill([2, 3], NaN), advantages: tf.zeros([2]) }),
    ).toThrow(/^clippedSurrogate: logRatio.*NaN/);
    expect(() => clippedSurrogate({ logRatio, advantages: tf.zeros([2]), clipLow: 1 })).toThrow(
      /^clippedSurrogate: clipLow/,
    );
    expect(() => clippedSurrogate({ logRatio, advantages: tf.zeros([2]), clipHigh: -0.1 })).toThrow(
      /^clippedSurrogate: clipHigh/,
    );
    logRatio.dispose();
  });
});

describe('policyGradientSurrogate', () => {
  it('is −A·ρ with gradient −A·ρ w.r.t. the log-ratio', () => {
    const logRatio = tf.tensor2d([
      [0, Math.log(2)],
      [Math.log(0.5), 0],
    ]);
    const advantages = tf.tensor1d([3, -1]);
    const out = policyGradientSurrogate({ logRatio, advantages, clipLow: 0.1 });
    [-3, -6, 0.5, 1].forEach((v, i) => expect(out.dataSync()[i]).toBeCloseTo(v, 5));
    const g = tf.grad((x: tf.Tensor) =>
      tf.sum(policyGradientSurrogate({ logRatio: x, advantages })),
    )(logRatio);
    [-3, -6, 0.5, 1].forEach((v, i) => expect(g.dataSync()[i]).toBeCloseTo(v, 5));
    tf.dispose([logRatio, advantages, out, g]);
  });

  it('throws naming the function on invalid input', () => {
    expect(() =>
      policyGradientSurrogate({ logRatio: tf.zeros([2, 2]), advantages: tf.zeros([3]) }),
    ).toThrow(/^policyGradientSurrogate: advantages/);
  });
});
