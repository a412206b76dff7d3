import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { groupRewardStats } from './group-reward-stats.js';
import { leakedTensors, seededRewardValues } from './testing/index.js';

describe('groupRewardStats', () => {
  it('matches the naive loop', () => {
    const values = seededRewardValues(12, 3, 'normal');
    const rewards = tf.tensor1d(values);
    const got = groupRewardStats({ rewards, groupSize: 4 });
    for (let q = 0; q < 3; q += 1) {
      const group = values.slice(4 * q, 4 * q + 4);
      const mean = group.reduce((s, r) => s + r, 0) / 4;
      const std = Math.sqrt(group.reduce((s, r) => s + (r - mean) ** 2, 0) / 3);
      expect(got.groupMeans[q]).toBeCloseTo(mean, 5);
      expect(got.groupStds[q]).toBeCloseTo(std, 5);
    }
    expect(got.zeroStdGroupFraction).toBe(0);
    rewards.dispose();
  });

  it('counts constant groups (hand-computed fixture)', () => {
    const rewards = tf.tensor1d([1, 1, 0, 1, 0, 0, 0.5, 0.5]);
    const got = groupRewardStats({ rewards, groupSize: 2 });
    expect(got.groupMeans).toEqual([1, 0.5, 0, 0.5]);
    expect(got.groupStds[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(got.zeroStdGroupFraction).toBe(0.75);
    expect(
      leakedTensors(() => {
        groupRewardStats({ rewards, groupSize: 4 });
        return [];
      }),
    ).toBe(0);
    rewards.dispose();
  });

  it('gives empty lists and a zero fraction of 0 for no rewards', () => {
    const rewards = tf.tensor1d([]);
    expect(groupRewardStats({ rewards, groupSize: 4 })).toEqual({
      groupMeans: [],
      groupStds: [],
      zeroStdGroupFraction: 0,
    });
    rewards.dispose();
  });

  it('counts a std exactly at zeroTolerance as zero and one just above as not', () => {
    // Group stds: 0, √2·0.01 ≈ 0.01414, √2·0.5 ≈ 0.7071.
    const rewards = tf.tensor1d([3, 3, 0, 0.02, 0, 1]);
    const stats = groupRewardStats({ rewards, groupSize: 2 });
    expect(stats.zeroStdGroupFraction).toBeCloseTo(1 / 3, 12);
    const s = stats.groupStds[1] ?? NaN; // a float32 value, held exactly as a number
    expect(s).toBeCloseTo(Math.SQRT2 * 0.01, 6);
    const at = (zeroTolerance: number) =>
      groupRewardStats({ rewards, groupSize: 2, zeroTolerance }).zeroStdGroupFraction;
    // The tolerance is exactly the std: counted.
    expect(at(s)).toBeCloseTo(2 / 3, 12);
    // A quarter of a float32 ulp below the std: not counted. (It rounds to s in float32, so a
    // float32 comparison on the backend would count it; the comparison is float64.)
    const below = s - s * 2 ** -26;
    expect(Math.fround(below)).toBe(s);
    expect(below).toBeLessThan(s);
    expect(at(below)).toBeCloseTo(1 / 3, 12);
    expect(at(0.8)).toBe(1);
    rewards.dispose();
  });

  it('throws naming the function and argument on invalid input', () => {
    expect(() => groupRewardStats({ rewards: tf.tensor1d([1, 2, 3]), groupSize: 2 })).toThrow(
      /^groupRewardStats: groupSize/,
    );
    expect(() => groupRewardStats({ rewards: tf.tensor1d([1, NaN]), groupSize: 2 })).toThrow(
      /^groupRewardStats: rewards/,
    );
  });
});
