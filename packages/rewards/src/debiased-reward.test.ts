import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { debiasedReward } from './debiased-reward.js';
import { seededRandom } from './testing/index.js';

function run(reward: readonly number[], baseline: readonly number[]): number[] {
  const r = tf.tensor1d(reward as number[]);
  const b = tf.tensor1d(baseline as number[]);
  const out = debiasedReward({ reward: r, baseline: b });
  const values = Array.from(out.dataSync());
  tf.dispose([r, b, out]);
  return values;
}

describe('debiasedReward', () => {
  it('matches hand-computed clip(r − r′, 0, 1)', () => {
    const out = run([0.7, 0.2, 0.5, 3, -1], [0.2, 0.6, 0.5, 0.5, -3]);
    [0.5, 0, 0, 1, 1].forEach((e, i) => expect(out[i]).toBeCloseTo(e, 6));
  });

  it('matches a naive loop on seeded random inputs', () => {
    const random = seededRandom(3);
    const reward = Array.from({ length: 64 }, () => Math.fround(random() * 1.4 - 0.2));
    const baseline = Array.from({ length: 64 }, () => Math.fround(random()));
    const expected = reward.map((r, i) => Math.min(1, Math.max(0, r - (baseline[i] as number))));
    run(reward, baseline).forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
  });

  it('has gradient 1 w.r.t. reward and −1 w.r.t. baseline inside (0, 1), 0 when clipped', () => {
    const r = tf.tensor1d([0.7, 0.1, 0.9]);
    const b = tf.tensor1d([0.2, 0.5, -0.5]);
    const [gr, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(debiasedReward({ reward: x, baseline: y })),
    )([r, b]);
    // `+ 0` maps −0 (from −1·0) to +0; the sign of zero is irrelevant here.
    expect(Array.from(gr?.dataSync() ?? [], (v) => v + 0)).toEqual([1, 0, 0]);
    expect(Array.from(gb?.dataSync() ?? [], (v) => v + 0)).toEqual([-1, 0, 0]);
    tf.dispose([r, b, gr, gb].filter((t): t is tf.Tensor => t !== undefined));
  });

  it('property: the result lies in [0, 1] and is 0 whenever r ≤ r′', () => {
    const value = fc.double({ min: -5, max: 5, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 8 }), (pairs) => {
        const out = run(
          pairs.map(([r]) => r),
          pairs.map(([, b]) => b),
        );
        out.forEach((v, i) => {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          const [r, b] = pairs[i] as [number, number];
          if (Math.fround(r) <= Math.fround(b)) expect(v === 0).toBe(true);
        });
      }),
      { numRuns: 80, seed: 7 },
    );
  });

  it('leaks no tensor and throws errors naming the function and argument', () => {
    const r = tf.tensor1d([0.5, 0.5]);
    const b = tf.tensor1d([0.1, 0.2]);
    const short = tf.tensor1d([0.1]);
    const matrix = tf.zeros([2, 1]);
    const nan = tf.tensor1d([0.1, Number.NaN]);
    const inf = tf.tensor1d([Infinity, 0.1]);
    const before = tf.memory().numTensors;
    const out = debiasedReward({ reward: r, baseline: b });
    expect(tf.memory().numTensors).toBe(before + 1);
    out.dispose();
    expect(() => debiasedReward({ reward: r, baseline: short })).toThrow(
      /^debiasedReward: baseline has shape \[1\] but must match reward \[2\]/,
    );
    expect(() => debiasedReward({ reward: matrix, baseline: b })).toThrow(
      /^debiasedReward: reward must have shape \[B\]/,
    );
    expect(() => debiasedReward({ reward: r, baseline: nan })).toThrow(
      /^debiasedReward: baseline has a non-finite/,
    );
    expect(() => debiasedReward({ reward: inf, baseline: b })).toThrow(
      /^debiasedReward: reward has a non-finite/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([r, b, short, matrix, nan, inf]);
  });
});
