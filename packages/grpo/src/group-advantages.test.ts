import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdvantageMethod } from './advantage-methods.js';
import { groupAdvantages } from './group-advantages.js';
import { leakedTensors, numericGradient, seededRewardValues } from './testing/index.js';

/** Naive-loop oracle in float64. */
function oracle(rewards: number[], g: number, method: string, eps = 1e-6): number[] {
  const out: number[] = [];
  for (let start = 0; start < rewards.length; start += g) {
    const group = rewards.slice(start, start + g);
    const mean = group.reduce((s, r) => s + r, 0) / g;
    const std = Math.sqrt(group.reduce((s, r) => s + (r - mean) ** 2, 0) / (g - 1));
    for (let i = 0; i < g; i += 1) {
      const r = group[i] ?? NaN;
      if (method === 'grpo') out.push((r - mean) / (std + eps));
      else if (method === 'dr-grpo') out.push(r - mean);
      else {
        let others = 0;
        for (let j = 0; j < g; j += 1) if (j !== i) others += group[j] ?? NaN;
        out.push(r - others / (g - 1));
      }
    }
  }
  return out;
}

const run = (rewards: number[], groupSize: number, method?: 'grpo' | 'dr-grpo' | 'rloo') =>
  tf.tidy(() =>
    Array.from(
      groupAdvantages({
        rewards: tf.tensor1d(rewards),
        groupSize,
        ...(method ? { method } : {}),
      }).dataSync(),
    ),
  );

describe('groupAdvantages', () => {
  it('matches the naive loop for every method on seeded rewards', () => {
    for (const method of ['grpo', 'dr-grpo', 'rloo'] as const) {
      for (const [seed, g, kind] of [
        [1, 4, 'uniform'],
        [2, 8, 'binary'],
        [3, 2, 'normal'],
      ] as const) {
        const rewards = seededRewardValues(g * 3, seed, kind);
        const got = run(rewards, g, method);
        oracle(rewards, g, method).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      }
    }
  });

  it('matches a hand-computed fixture', () => {
    // group [1, 0, 0, 1]: mean 0.5, unbiased std √(1/3)
    const s = Math.sqrt(1 / 3);
    const want = [0.5, -0.5, -0.5, 0.5].map((c) => c / (s + 1e-6)); // ±0.866
    run([1, 0, 0, 1], 4).forEach((v, i) => expect(v).toBeCloseTo(want[i] ?? NaN, 5));
    expect(run([3, 1, 2, 2], 2, 'dr-grpo')).toEqual([1, -1, 0, 0]);
    expect(run([3, 1, 2], 3, 'rloo')).toEqual([1.5, -1.5, 0]);
  });

  it('defaults to grpo and gives 0 for a constant group', () => {
    expect(run([2, 2, 2, 5, 5, 5], 3)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('sums to ≈ 0 within every group (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('grpo' as const, 'dr-grpo' as const, 'rloo' as const),
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 24, maxLength: 24 }),
        (g, q, method, pool) => {
          const rewards = pool.slice(0, g * q);
          const a = run(rewards, g, method);
          for (let start = 0; start < a.length; start += g) {
            const sum = a.slice(start, start + g).reduce((s, x) => s + x, 0);
            expect(Math.abs(sum)).toBeLessThan(1e-3 * g * (method === 'grpo' ? 1 : 10));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('has the gradient of its formula w.r.t. the rewards (finite differences)', () => {
    const rewards = seededRewardValues(6, 9, 'normal');
    for (const method of ['grpo', 'dr-grpo', 'rloo'] as const) {
      const weights = [0.3, -1, 2, 0.5, 1, -0.7]; // a generic linear read-out of the advantages
      const g = tf.tidy(() =>
        Array.from(
          tf
            .grad((r: tf.Tensor) =>
              tf.sum(tf.mul(groupAdvantages({ rewards: r, groupSize: 3, method }), weights)),
            )(tf.tensor1d(rewards))
            .dataSync(),
        ),
      );
      const f = (r: readonly number[]) =>
        oracle([...r], 3, method).reduce((s, a, i) => s + a * (weights[i] ?? NaN), 0);
      numericGradient(f, rewards).forEach((v, i) => expect(g[i]).toBeCloseTo(v, 2));
    }
  });

  it('accepts a custom method function', () => {
    const doubled: AdvantageMethod = ({ groupedRewards }) => tf.mul(groupedRewards, 2);
    const out = groupAdvantages({
      rewards: tf.tensor1d([1, 2, 3, 4]),
      groupSize: 2,
      method: doubled,
    });
    expect(Array.from(out.dataSync())).toEqual([2, 4, 6, 8]);
    out.dispose();
  });

  it('gives an empty [0] result for no rewards (N = 0 is whole groups), for every method', () => {
    // tf.all of an empty tensor is false: a naive finiteness check reported NaN here.
    const empty = tf.tensor1d([]);
    for (const method of ['grpo', 'dr-grpo', 'rloo'] as const) {
      const out = groupAdvantages({ rewards: empty, groupSize: 2, method });
      expect(out.shape).toEqual([0]);
      out.dispose();
    }
    empty.dispose();
  });

  it('rejects a method function that does not return [Q, G], naming the method argument', () => {
    const r = tf.tensor1d([1, 2, 3, 4]);
    const perGroup: AdvantageMethod = ({ groupedRewards }) => tf.mean(groupedRewards, 1);
    const transposed: AdvantageMethod = ({ groupedRewards }) => tf.transpose(groupedRewards);
    expect(() => groupAdvantages({ rewards: r, groupSize: 2, method: perGroup })).toThrow(
      /^groupAdvantages: method returned shape \[2\] but must return \[2, 2\]/,
    );
    const square = tf.tensor1d([1, 2, 3, 4, 5, 6]);
    expect(() => groupAdvantages({ rewards: square, groupSize: 2, method: transposed })).toThrow(
      /^groupAdvantages: method returned shape \[2, 3\] but must return \[3, 2\]/,
    );
    expect(
      leakedTensors(() => {
        try {
          groupAdvantages({ rewards: r, groupSize: 2, method: perGroup });
        } catch {
          // expected
        }
        return [];
      }),
    ).toBe(0);
    tf.dispose([r, square]);
  });

  it('leaks no tensor', () => {
    const rewards = tf.tensor1d(seededRewardValues(8, 5));
    for (const method of ['grpo', 'dr-grpo', 'rloo'] as const) {
      expect(leakedTensors(() => groupAdvantages({ rewards, groupSize: 4, method }))).toBe(0);
    }
    rewards.dispose();
  });

  it('throws naming the function and argument on invalid input', () => {
    const r = tf.tensor1d([1, 2, 3, 4, 5, 6]);
    expect(() => groupAdvantages({ rewards: r, groupSize: 4 })).toThrow(
      /^groupAdvantages: groupSize 4 does not divide/,
    );
    expect(() => groupAdvantages({ rewards: r, groupSize: 1 })).toThrow(
      /^groupAdvantages: groupSize/,
    );
    expect(() => groupAdvantages({ rewards: r, groupSize: 2.5 })).toThrow(
      /^groupAdvantages: groupSize/,
    );
    expect(() => groupAdvantages({ rewards: tf.tensor2d([[1, 2]]), groupSize: 2 })).toThrow(
      /^groupAdvantages: rewards/,
    );
    expect(() => groupAdvantages({ rewards: tf.tensor1d([1, NaN]), groupSize: 2 })).toThrow(
      /^groupAdvantages: rewards.*NaN/,
    );
    expect(() => groupAdvantages({ rewards: tf.tensor1d([1, Infinity]), groupSize: 2 })).toThrow(
      /^groupAdvantages: rewards/,
    );
    expect(() => groupAdvantages({ rewards: r, groupSize: 2, method: 'ppo' as 'grpo' })).toThrow(
      /^groupAdvantages: method 'ppo' is unknown; valid names: grpo, dr-grpo, rloo/,
    );
    expect(() => groupAdvantages({ rewards: r, groupSize: 2, epsilon: -1 })).toThrow(
      /^groupAdvantages: epsilon/,
    );
    r.dispose();
  });
});
