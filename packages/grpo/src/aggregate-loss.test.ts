import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateLoss } from './aggregate-loss.js';
import type { AggregationName } from './aggregations.js';
import { aggregations } from './aggregations.js';
import { clippedSurrogate } from './clipped-surrogate.js';
import {
  leakedTensors,
  mulberry32,
  numericGradient,
  seededMask,
  seededUniform,
} from './testing/index.js';

const MODES = Object.keys(aggregations) as AggregationName[];

/** Naive-loop oracle in float64. */
function oracle(
  loss: number[][],
  mask: number[][],
  mode: AggregationName,
  normalizer?: number,
): number {
  let total = 0;
  let count = 0;
  let rowAcc = 0;
  let rows = 0;
  loss.forEach((row, b) => {
    let s = 0;
    let n = 0;
    row.forEach((l, t) => {
      const m = mask[b]?.[t] ?? 0;
      if (m > 0) {
        s += m * l;
        n += m;
      }
    });
    total += s;
    count += n;
    if (n > 0) {
      rows += 1;
      rowAcc += mode === 'seq-mean-token-mean' ? s / n : s;
    }
  });
  if (mode === 'token-mean') return count > 0 ? total / count : 0;
  if (mode === 'seq-mean-token-sum-norm') return total / (normalizer ?? loss[0]?.length ?? 1);
  return rows > 0 ? rowAcc / rows : 0;
}

describe('aggregateLoss', () => {
  it('matches the naive loop for every mode (with an empty row)', () => {
    for (const seed of [1, 2]) {
      const loss = seededUniform(5, 7, seed, -2, 2);
      const mask = tf.tidy(() =>
        tf.mul(seededMask(5, 7, seed + 10), tf.tensor2d([1, 1, 0, 1, 1], [5, 1])),
      );
      const l = loss.arraySync();
      const m = mask.arraySync() as number[][];
      for (const mode of MODES) {
        const out = aggregateLoss({ loss, mask, mode });
        expect(out.shape).toEqual([]);
        expect(out.dataSync()[0]).toBeCloseTo(oracle(l, m, mode), 5);
        out.dispose();
      }
      const norm = aggregateLoss({ loss, mask, mode: 'seq-mean-token-sum-norm', normalizer: 3 });
      expect(norm.dataSync()[0]).toBeCloseTo(oracle(l, m, 'seq-mean-token-sum-norm', 3), 5);
      tf.dispose([loss, mask, norm]);
    }
  });

  it('matches a hand-computed fixture', () => {
    const loss = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const mask = tf.tensor2d([
      [1, 1, 0],
      [1, 0, 0],
    ]);
    const value = (mode: AggregationName) => aggregateLoss({ loss, mask, mode }).dataSync()[0];
    expect(value('token-mean')).toBeCloseTo(7 / 3, 6); // (1 + 2 + 4) / 3
    expect(value('seq-mean-token-mean')).toBeCloseTo((1.5 + 4) / 2, 6);
    expect(value('seq-mean-token-sum')).toBeCloseTo((3 + 4) / 2, 6);
    expect(value('seq-mean-token-sum-norm')).toBeCloseTo(7 / 3, 6); // normalizer T = 3
    expect(aggregateLoss({ loss, mask }).dataSync()[0]).toBeCloseTo(7 / 3, 6); // default token-mean
  });

  it('returns 0, not NaN, for an all-padding batch in every mode', () => {
    const loss = tf.tensor2d([
      [1, NaN],
      [Infinity, 2],
    ]);
    const mask = tf.zeros([2, 2]);
    for (const mode of MODES) expect(aggregateLoss({ loss, mask, mode }).dataSync()[0]).toBe(0);
  });

  it('returns 0 for an empty batch ([0, T] or [B, 0]) in every mode, surrogates included', () => {
    // tf.all of an empty tensor is false: the mask check used to reject these as non-finite.
    for (const shape of [
      [0, 3],
      [2, 0],
    ] as const) {
      const logRatio = tf.zeros([...shape]);
      const advantages = tf.zeros([shape[0]]);
      const perToken = clippedSurrogate({ logRatio, advantages });
      expect(perToken.shape).toEqual([...shape]);
      for (const mode of MODES) {
        expect(
          aggregateLoss({ loss: perToken, mask: tf.zeros([...shape]), mode }).dataSync()[0],
        ).toBe(0);
      }
      tf.dispose([logRatio, advantages, perToken]);
    }
  });

  it('never lets masked positions matter, even NaN or ±∞ (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom(...MODES),
        fc.constantFrom(NaN, Infinity, -Infinity, 1e30, 0, -7),
        (seed, mode, junk) => {
          const [a, b] = tf.tidy(() => {
            const loss = seededUniform(3, 4, seed, -1, 1);
            const mask = seededMask(3, 4, seed + 1, 0);
            const junked = tf.where(tf.equal(mask, 0), tf.fill([3, 4], junk), loss);
            return [
              aggregateLoss({ loss, mask, mode }).dataSync()[0],
              aggregateLoss({ loss: junked, mask, mode }).dataSync()[0],
            ];
          });
          expect(b).toBe(a);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('has the gradient of its formula (finite differences)', () => {
    const rng = mulberry32(3);
    const values = Array.from({ length: 12 }, () => rng() - 0.5);
    const m = [
      [1, 1, 0, 0],
      [1, 1, 1, 1],
      [0, 0, 0, 0],
    ];
    for (const mode of MODES) {
      const g = tf.tidy(() =>
        Array.from(
          tf
            .grad((x: tf.Tensor) => aggregateLoss({ loss: x, mask: tf.tensor2d(m), mode }))(
              tf.tensor2d(values, [3, 4]),
            )
            .dataSync(),
        ),
      );
      const f = (x: readonly number[]) =>
        oracle([x.slice(0, 4), x.slice(4, 8), x.slice(8)], m, mode);
      numericGradient(f, values).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 3));
    }
  });

  it('leaks no tensor', () => {
    const loss = seededUniform(2, 3, 9);
    const mask = seededMask(2, 3, 9);
    for (const mode of MODES)
      expect(leakedTensors(() => aggregateLoss({ loss, mask, mode }))).toBe(0);
    tf.dispose([loss, mask]);
  });

  it('throws naming the function and argument on invalid input', () => {
    const loss = tf.zeros([2, 3]);
    const mask = tf.ones([2, 3]);
    expect(() => aggregateLoss({ loss, mask: tf.ones([3, 2]) })).toThrow(
      /^aggregateLoss: mask has shape/,
    );
    expect(() => aggregateLoss({ loss: tf.zeros([6]), mask: tf.ones([6]) })).toThrow(
      /^aggregateLoss: loss/,
    );
    expect(() => aggregateLoss({ loss, mask: tf.fill([2, 3], -1) })).toThrow(
      /^aggregateLoss: mask/,
    );
    expect(() => aggregateLoss({ loss, mask: tf.fill([2, 3], NaN) })).toThrow(
      /^aggregateLoss: mask/,
    );
    expect(() => aggregateLoss({ loss: tf.fill([2, 3], NaN), mask })).toThrow(
      /^aggregateLoss: loss contains NaN/,
    );
    expect(() => aggregateLoss({ loss, mask, mode: 'mean' as AggregationName })).toThrow(
      /^aggregateLoss: mode 'mean' is unknown; valid names: token-mean, seq-mean-token-mean/,
    );
    expect(() =>
      aggregateLoss({ loss, mask, mode: 'seq-mean-token-sum-norm', normalizer: 0 }),
    ).toThrow(/^aggregateLoss: normalizer/);
    expect(() => aggregations['token-mean']({ loss, mask: tf.ones([1, 3]) })).toThrow(
      /^aggregations\['token-mean'\]: mask/,
    );
  });
});
