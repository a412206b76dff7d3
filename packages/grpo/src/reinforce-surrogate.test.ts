import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { policyGradientSurrogate } from './policy-gradient-surrogate.js';
import { reinforceSurrogate } from './reinforce-surrogate.js';
import { leakedTensors, mulberry32, numericGradient, seededUniform } from './testing/index.js';

/** Identity forward, zero gradient (TF.js has no stopGradient op). */
const stopGradient = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

describe('reinforceSurrogate', () => {
  it('matches the naive loop −A·log π with [B] and [B, T] advantages', () => {
    const logProbs = seededUniform(3, 4, 1, -4, 0);
    const logRatio = seededUniform(3, 4, 2, -0.5, 0.5);
    const rows = tf.tensor1d([1.5, -0.7, 0]);
    const tokens = seededUniform(3, 4, 3, -2, 2);
    const lp = logProbs.arraySync() as number[][];
    for (const advantages of [rows, tokens]) {
      const out = reinforceSurrogate({ logRatio, advantages, logProbs });
      expect(out.shape).toEqual([3, 4]);
      const got = out.arraySync() as number[][];
      const a = advantages.arraySync() as number[] | number[][];
      lp.forEach((row, b) =>
        row.forEach((l, t) => {
          const ab = a[b];
          const at = Array.isArray(ab) ? (ab[t] ?? NaN) : (ab ?? NaN);
          expect(got[b]?.[t]).toBeCloseTo(-at * l, 6);
        }),
      );
      out.dispose();
    }
    tf.dispose([logProbs, logRatio, rows, tokens]);
  });

  it('does not depend on logRatio and has the gradient −A w.r.t. log π (finite differences)', () => {
    const rng = mulberry32(5);
    const lp = Array.from({ length: 6 }, () => -3 * rng());
    const adv = [0.8, -1.3];
    const advantages = tf.tensor1d(adv);
    const logProbs = tf.tensor2d(lp, [2, 3]);
    const a = reinforceSurrogate({ logRatio: tf.zeros([2, 3]), advantages, logProbs });
    const b = reinforceSurrogate({ logRatio: tf.fill([2, 3], 0.7), advantages, logProbs });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const g = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) =>
            tf.sum(reinforceSurrogate({ logRatio: tf.zerosLike(x), advantages, logProbs: x })),
          )(logProbs)
          .dataSync(),
      ),
    );
    const total = (x: readonly number[]) =>
      x.reduce((s, v, i) => s - (adv[Math.floor(i / 3)] ?? NaN) * v, 0);
    numericGradient(total, lp).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 3));
    tf.dispose([advantages, logProbs, a, b]);
  });

  it("has 'pg''s gradient at ratio 1 (on-policy), with log π's value instead of 1", () => {
    // logRatio = ℓ − sg(ℓ) is 0 with gradient 1: then −A·ρ and −A·ℓ differ in value only.
    const lp = tf.tensor2d([[-0.5, -2, -1]]);
    const advantages = tf.tensor1d([1.7]);
    const onPolicy = (x: tf.Tensor) => tf.sub(x, stopGradient(x));
    const gPg = tf.grad((x: tf.Tensor) =>
      tf.sum(policyGradientSurrogate({ logRatio: onPolicy(x), advantages })),
    )(lp);
    const gReinforce = tf.grad((x: tf.Tensor) =>
      tf.sum(reinforceSurrogate({ logRatio: onPolicy(x), advantages, logProbs: x })),
    )(lp);
    expect(Array.from(gReinforce.dataSync())).toEqual(Array.from(gPg.dataSync()));
    tf.dispose([lp, advantages, gPg, gReinforce]);
  });

  it('leaks no tensor and throws naming the function and argument', () => {
    const logRatio = tf.zeros([2, 3]);
    const advantages = tf.tensor1d([1, -1]);
    const logProbs = tf.fill([2, 3], -1);
    expect(leakedTensors(() => reinforceSurrogate({ logRatio, advantages, logProbs }))).toBe(0);
    expect(() => reinforceSurrogate({ logRatio, advantages })).toThrow(
      /^reinforceSurrogate: logProbs is required/,
    );
    const wide = tf.zeros([2, 4]);
    const tokens = tf.zeros([2, 3]);
    expect(() => reinforceSurrogate({ logRatio, advantages: tokens, logProbs: wide })).toThrow(
      /^reinforceSurrogate: advantages has shape \[2, 3\] but must be \[2\] or \[2, 4\] \(logProbs is \[2, 4\]\)/,
    );
    expect(() => reinforceSurrogate({ logRatio, advantages, logProbs: tf.zeros([2]) })).toThrow(
      /^reinforceSurrogate: logProbs must have rank 2/,
    );
    tf.dispose([wide, tokens]);
    expect(() =>
      reinforceSurrogate({ logRatio, advantages, logProbs: tf.fill([2, 3], NaN) }),
    ).toThrow(/^reinforceSurrogate: logProbs contains NaN/);
    expect(() => reinforceSurrogate({ logRatio, advantages: tf.zeros([3]), logProbs })).toThrow(
      /^reinforceSurrogate: advantages/,
    );
    tf.dispose([logRatio, advantages, logProbs]);
  });

  it('never reads logRatio, so a lazily built one is never built and its NaN cannot matter', () => {
    const advantages = tf.tensor1d([0.5, -2]);
    const logProbs = tf.tensor2d([
      [-1, -0.25],
      [-3, -0.5],
    ]);
    let reads = 0;
    const lazy = {
      advantages,
      logProbs,
      get logRatio(): tf.Tensor {
        reads += 1;
        throw new Error('logRatio was read');
      },
    };
    const out = reinforceSurrogate(lazy);
    expect(reads).toBe(0);
    expect(Array.from(out.dataSync())).toEqual([0.5, 0.125, -6, -1]);
    const nan = tf.fill([2, 2], NaN);
    const withNaN = reinforceSurrogate({ logRatio: nan, advantages, logProbs });
    expect(Array.from(withNaN.dataSync())).toEqual(Array.from(out.dataSync()));
    tf.dispose([advantages, logProbs, out, nan, withNaN]);
  });
});
