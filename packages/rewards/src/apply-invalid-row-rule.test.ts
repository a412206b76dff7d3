import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyInvalidRowRule } from './apply-invalid-row-rule.js';
import { applyInvalidRowRuleToNumbers } from './apply-invalid-row-rule-to-numbers.js';
import { rewardFormNames, rewardFormUnit } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';
import { seededRandom } from './testing/index.js';

/** Naive oracle, written from methods.md §3.4 independently of both implementations. */
function oracle(
  rewards: readonly number[],
  valid: readonly boolean[],
  groupSize: number,
  form: RewardForm,
  margin: number,
): number[] {
  const out: number[] = [];
  for (let g = 0; g < rewards.length / groupSize; g += 1) {
    const idx = Array.from({ length: groupSize }, (_, k) => g * groupSize + k);
    const validRewards = idx.filter((i) => valid[i]).map((i) => rewards[i] as number);
    for (const i of idx) {
      if (valid[i]) out.push(rewards[i] as number);
      else if (rewardFormUnit[form] === 'probability') out.push(0);
      else if (validRewards.length === 0) out.push(0);
      else out.push(Math.min(...validRewards) - margin);
    }
  }
  return out;
}

function run(
  rewards: readonly number[],
  valid: readonly boolean[],
  groupSize: number,
  form: RewardForm,
  margin?: number,
): number[] {
  const r = tf.tensor1d(rewards as number[]);
  const v = tf.tensor1d(valid.map((x) => (x ? 1 : 0)));
  const out = applyInvalidRowRule(
    margin === undefined
      ? { rewards: r, valid: v, groupSize, form }
      : { rewards: r, valid: v, groupSize, form, margin },
  );
  const values = Array.from(out.dataSync(), (x) => x + 0); // + 0 maps −0 to +0
  tf.dispose([r, v, out]);
  return values;
}

describe('applyInvalidRowRule', () => {
  it('matches hand-computed values (log-prob: worst valid − margin; all-invalid group → 0)', () => {
    const rewards = [-3, -5, Number.NaN, -1, /* group 2 */ -7, -Infinity, -2, -4];
    const valid = [true, true, false, true, /* group 2 */ false, false, false, false];
    expect(run(rewards, valid, 4, 'log-prob-sum')).toEqual([-3, -5, -6, -1, 0, 0, 0, 0]);
    expect(run(rewards, valid, 4, 'log-prob-mean', 0.5)).toEqual([-3, -5, -5.5, -1, 0, 0, 0, 0]);
    expect(run(rewards, valid, 2, 'log-prob-sum')).toEqual([-3, -5, -2, -1, 0, 0, 0, 0]);
  });

  it('sets invalid rows to 0 for the probability forms', () => {
    const rewards = [0.3, 0.9, Number.NaN, 0.1];
    const valid = [true, false, false, true];
    for (const form of ['prob', 'mean-prob', 'geo-mean-prob'] as const) {
      const out = run(rewards, valid, 2, form);
      expect(out[0]).toBeCloseTo(0.3, 6);
      expect(out.slice(1, 3)).toEqual([0, 0]);
      expect(out[3]).toBeCloseTo(0.1, 6);
    }
  });

  it.each(rewardFormNames)('matches the naive oracle and the plain-number twin (%s)', (form) => {
    const random = seededRandom(rewardFormNames.indexOf(form) + 100);
    for (const groupSize of [1, 3, 8]) {
      const n = groupSize * 6;
      const rewards = Array.from({ length: n }, () => Math.fround(-20 * random()));
      // Some groups all valid, some all invalid, most mixed.
      const valid = Array.from({ length: n }, (_, i) =>
        Math.floor(i / groupSize) === 0
          ? true
          : Math.floor(i / groupSize) === 1
            ? false
            : random() < 0.6,
      );
      const margin = Math.fround(0.25 + random());
      const expected = oracle(rewards, valid, groupSize, form, margin);
      const actual = run(rewards, valid, groupSize, form, margin);
      actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i] as number, 4));
      const twin = applyInvalidRowRuleToNumbers({ rewards, valid, groupSize, form, margin });
      twin.forEach((a, i) => expect(a).toBeCloseTo(expected[i] as number, 10));
    }
  });

  it('property (log-prob forms): invalid rows lie strictly below every valid row of their group', () => {
    const group = fc.array(fc.tuple(fc.double({ min: -100, max: 0, noNaN: true }), fc.boolean()), {
      minLength: 4,
      maxLength: 4,
    });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 1, maxLength: 4 }),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        fc.constantFrom<RewardForm>('log-prob-sum', 'log-prob-mean'),
        (groups, margin, form) => {
          const flat = groups.flat();
          const rewards = flat.map(([r]) => Math.fround(r));
          const valid = flat.map(([, v]) => v);
          const out = run(rewards, valid, 4, form, margin);
          groups.forEach((_, g) => {
            const idx = [0, 1, 2, 3].map((k) => g * 4 + k);
            const validIdx = idx.filter((i) => valid[i]);
            for (const i of idx) {
              if (valid[i]) expect(out[i]).toBe((rewards[i] as number) + 0);
              else if (validIdx.length === 0) expect(out[i]).toBe(0);
              else
                for (const j of validIdx) expect(out[i] as number).toBeLessThan(out[j] as number);
            }
          });
        },
      ),
      { numRuns: 60, seed: 3 },
    );
  });

  it('property (probability forms): the output stays in [0, 1] and invalid rows are 0', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), {
          minLength: 2,
          maxLength: 12,
        }),
        fc.constantFrom<RewardForm>('prob', 'mean-prob', 'geo-mean-prob'),
        (rows, form) => {
          const even = rows.slice(0, rows.length - (rows.length % 2));
          const out = run(
            even.map(([r]) => r),
            even.map(([, v]) => v),
            2,
            form,
          );
          out.forEach((v, i) => {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
            if (!(even[i] as [number, boolean])[1]) expect(v).toBe(0);
          });
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });

  it('leaks no tensor, does not mutate inputs, and accepts bool / int32 validity', () => {
    const rewards = tf.tensor1d([-1, -2, -3, -4]);
    const validBool = tf.tensor1d([1, 0, 1, 1], 'bool');
    const validInt = tf.tensor1d([1, 0, 1, 1], 'int32');
    const before = tf.memory().numTensors;
    const a = applyInvalidRowRule({
      rewards,
      valid: validBool,
      groupSize: 2,
      form: 'log-prob-sum',
    });
    const b = applyInvalidRowRule({ rewards, valid: validInt, groupSize: 2, form: 'prob' });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(Array.from(a.dataSync())).toEqual([-1, -2, -3, -4]);
    expect(Array.from(b.dataSync())).toEqual([-1, 0, -3, -4]);
    expect(Array.from(rewards.dataSync())).toEqual([-1, -2, -3, -4]);
    tf.dispose([rewards, validBool, validInt, a, b]);
  });

  it('throws errors naming the function and the argument', () => {
    const rewards = tf.tensor1d([-1, -2, -3, -4, -5, -6]);
    const valid = tf.ones([6]);
    const short = tf.ones([5]);
    const half = tf.fill([6], 0.5);
    const nanAtValid = tf.tensor1d([-1, Number.NaN, -3, -4, -5, -6]);
    const matrix = tf.zeros([6, 1]);
    const before = tf.memory().numTensors;
    const call = (extra: Record<string, unknown>) => () =>
      applyInvalidRowRule({
        rewards,
        valid,
        groupSize: 3,
        form: 'log-prob-sum',
        ...extra,
      } as never);
    expect(call({ groupSize: 4 })).toThrow(
      /^applyInvalidRowRule: groupSize 4 does not divide the batch size N = 6/,
    );
    expect(call({ groupSize: 0 })).toThrow(
      /^applyInvalidRowRule: groupSize must be a positive integer/,
    );
    expect(call({ groupSize: 1.5 })).toThrow(/^applyInvalidRowRule: groupSize must be/);
    expect(call({ valid: short })).toThrow(
      /^applyInvalidRowRule: valid has shape \[5\] but must match rewards/,
    );
    expect(call({ rewards: matrix })).toThrow(
      /^applyInvalidRowRule: rewards must have shape \[N\]/,
    );
    expect(call({ form: 'logprob' })).toThrow(
      /^applyInvalidRowRule: form 'logprob' is unknown; use one of/,
    );
    expect(call({ margin: -1 })).toThrow(
      /^applyInvalidRowRule: margin must be a finite number ≥ 0/,
    );
    expect(call({ margin: Number.NaN })).toThrow(/^applyInvalidRowRule: margin/);
    expect(call({ valid: half })).toThrow(/^applyInvalidRowRule: valid must hold only 1/);
    expect(call({ rewards: nanAtValid })).toThrow(
      /^applyInvalidRowRule: rewards has a non-finite \(NaN or ±∞\) value at a valid row/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([rewards, valid, short, half, nanAtValid, matrix]);
  });
});
