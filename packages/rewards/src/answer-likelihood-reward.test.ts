import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerLikelihoodReward } from './answer-likelihood-reward.js';
import { rewardFormNames } from './reward-form-names.js';
import type { RewardForm } from './reward-form-names.js';
import { makeAnswerLogProbs, randomAnswerRows, seededRandom } from './testing/index.js';

/** Naive per-row oracle in float64, straight from the contract table (n = 0 rule documented). */
function oracle(row: readonly number[], form: RewardForm): number {
  const n = row.length;
  let sum = 0;
  let probSum = 0;
  for (const l of row) {
    sum += l;
    probSum += Math.exp(l);
  }
  switch (form) {
    case 'log-prob-sum':
      return sum;
    case 'log-prob-mean':
      return n === 0 ? 0 : sum / n;
    case 'prob':
      return Math.exp(sum);
    case 'mean-prob':
      return n === 0 ? 0 : probSum / n;
    case 'geo-mean-prob':
      return n === 0 ? 0 : Math.exp(sum / n);
  }
}

function rewardOf(rows: readonly (readonly number[])[], form: RewardForm, padValue?: number) {
  const { answerLogProbs, answerMask } = makeAnswerLogProbs(
    padValue === undefined ? { rows } : { rows, padValue },
  );
  const out = answerLikelihoodReward({ answerLogProbs, answerMask, form });
  const values = Array.from(out.dataSync());
  tf.dispose([answerLogProbs, answerMask, out]);
  return values;
}

function expectClose(actual: readonly number[], expected: readonly number[], rel = 1e-5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    expect(Math.abs(a - e), `row ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(
      rel * Math.max(1, Math.abs(e)),
    );
  });
}

describe('answerLikelihoodReward', () => {
  it('matches hand-computed values for every form, including an empty row', () => {
    const rows = [[-1, -2], [-0.5], []];
    expectClose(rewardOf(rows, 'log-prob-sum'), [-3, -0.5, 0]);
    expectClose(rewardOf(rows, 'log-prob-mean'), [-1.5, -0.5, 0]);
    expectClose(rewardOf(rows, 'prob'), [Math.exp(-3), Math.exp(-0.5), 1]);
    expectClose(rewardOf(rows, 'mean-prob'), [
      (Math.exp(-1) + Math.exp(-2)) / 2,
      Math.exp(-0.5),
      0,
    ]);
    expectClose(rewardOf(rows, 'geo-mean-prob'), [Math.exp(-1.5), Math.exp(-0.5), 0]);
  });

  it.each(rewardFormNames)('matches the naive oracle on seeded random rows (%s)', (form) => {
    for (const seed of [1, 2, 3]) {
      const rows = randomAnswerRows({ batchSize: 17, maxLength: 9, minLength: 0, seed });
      expectClose(
        rewardOf(rows, form),
        rows.map((r) => oracle(r, form)),
      );
    }
  });

  it('ignores padded positions whatever they hold (NaN, -Infinity, +Infinity, 3)', () => {
    const rows = randomAnswerRows({ batchSize: 6, maxLength: 5, minLength: 0, seed: 9 });
    for (const form of rewardFormNames) {
      const reference = rewardOf(rows, form, 0);
      for (const pad of [Number.NaN, -Infinity, Infinity, 3]) {
        expect(rewardOf(rows, form, pad)).toEqual(reference);
      }
    }
  });

  it('allows -Infinity at a real position: log-prob forms -Infinity, probability forms 0', () => {
    const rows = [[-1, -Infinity]];
    expect(rewardOf(rows, 'log-prob-sum')).toEqual([-Infinity]);
    expect(rewardOf(rows, 'log-prob-mean')).toEqual([-Infinity]);
    expect(rewardOf(rows, 'prob')).toEqual([0]);
    expectClose(rewardOf(rows, 'mean-prob'), [Math.exp(-1) / 2]);
    expect(rewardOf(rows, 'geo-mean-prob')).toEqual([0]);
  });

  it('accepts int32 and bool masks', () => {
    const answerLogProbs = tf.tensor2d([
      [-1, -2],
      [-3, 0],
    ]);
    const int = tf.tensor2d(
      [
        [1, 1],
        [1, 0],
      ],
      undefined,
      'int32',
    );
    const bool = tf.cast(int, 'bool');
    const a = answerLikelihoodReward({ answerLogProbs, answerMask: int, form: 'log-prob-mean' });
    const b = answerLikelihoodReward({ answerLogProbs, answerMask: bool, form: 'log-prob-mean' });
    expect(Array.from(a.dataSync())).toEqual([-1.5, -3]);
    expect(Array.from(b.dataSync())).toEqual([-1.5, -3]);
    expect(a.dtype).toBe('float32');
    tf.dispose([answerLogProbs, int, bool, a, b]);
  });

  it.each(rewardFormNames)(
    'has gradients equal to finite differences of the oracle (%s)',
    (form) => {
      const rows = randomAnswerRows({
        batchSize: 4,
        maxLength: 4,
        minLength: 0,
        minLogProb: -2,
        seed: 5,
      });
      const random = seededRandom(11);
      const weights = rows.map(() => random() * 2 - 1);
      const { answerLogProbs, answerMask } = makeAnswerLogProbs({ rows, padValue: 0 });
      const w = tf.tensor1d(weights);
      const gradient = tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(answerLikelihoodReward({ answerLogProbs: x, answerMask, form }), w)),
      )(answerLogProbs);
      const analytic = gradient.arraySync() as number[][];
      const width = answerLogProbs.shape[1];
      const eps = 1e-5;
      rows.forEach((row, b) => {
        for (let t = 0; t < width; t += 1) {
          const g = analytic[b]?.[t] as number;
          if (t >= row.length) {
            expect(g, `padding [${b}, ${t}]`).toBe(0);
            continue;
          }
          const plus = row.map((v, k) => (k === t ? v + eps : v));
          const minus = row.map((v, k) => (k === t ? v - eps : v));
          const fd =
            ((weights[b] as number) * (oracle(plus, form) - oracle(minus, form))) / (2 * eps);
          expect(Math.abs(g - fd), `[${b}, ${t}] ${g} vs ${fd}`).toBeLessThan(1e-3);
        }
      });
      tf.dispose([answerLogProbs, answerMask, w, gradient]);
    },
  );

  it('leaks no tensor: only the returned tensor is new', () => {
    const { answerLogProbs, answerMask } = makeAnswerLogProbs({ rows: [[-1], [-2, -3], []] });
    for (const form of rewardFormNames) {
      const before = tf.memory().numTensors;
      const out = answerLikelihoodReward({ answerLogProbs, answerMask, form });
      expect(tf.memory().numTensors).toBe(before + 1);
      out.dispose();
    }
    tf.dispose([answerLogProbs, answerMask]);
  });

  it('does not mutate its inputs', () => {
    const { answerLogProbs, answerMask } = makeAnswerLogProbs({ rows: [[-1, -2], [-3]] });
    const logProbsBefore = answerLogProbs.arraySync();
    const maskBefore = answerMask.arraySync();
    for (const form of rewardFormNames) {
      answerLikelihoodReward({ answerLogProbs, answerMask, form }).dispose();
    }
    expect(answerLogProbs.arraySync()).toEqual(logProbsBefore);
    expect(answerMask.arraySync()).toEqual(maskBefore);
    tf.dispose([answerLogProbs, answerMask]);
  });

  it('throws errors naming the function and the argument, leaking nothing', () => {
    const good = tf.zeros([2, 3]);
    const mask = tf.ones([2, 3]);
    const wrongRank = tf.zeros([2]);
    const wrongShape = tf.ones([2, 4]);
    const halfMask = tf.fill([2, 3], 0.5);
    const nanLogProbs = tf.tensor2d([
      [0, Number.NaN, 0],
      [0, 0, 0],
    ]);
    const before = tf.memory().numTensors;
    const call = (args: Record<string, unknown>) => () =>
      answerLikelihoodReward({
        answerLogProbs: good,
        answerMask: mask,
        form: 'prob',
        ...args,
      } as never);
    expect(call({ answerLogProbs: wrongRank })).toThrow(
      /^answerLikelihoodReward: answerLogProbs must have shape \[B, A\]/,
    );
    expect(call({ answerLogProbs: [[0]] })).toThrow(
      /answerLikelihoodReward: answerLogProbs must be a tf.Tensor/,
    );
    expect(call({ answerMask: wrongShape })).toThrow(
      /answerLikelihoodReward: answerMask has shape \[2, 4\] but must match answerLogProbs \[2, 3\]/,
    );
    expect(call({ form: 'probability' })).toThrow(
      /answerLikelihoodReward: form 'probability' is unknown; use one of log-prob-sum, log-prob-mean, prob, mean-prob, geo-mean-prob/,
    );
    expect(call({ answerMask: halfMask })).toThrow(
      /answerLikelihoodReward: answerMask must hold only 0 and 1/,
    );
    expect(call({ answerLogProbs: nanLogProbs })).toThrow(
      /answerLikelihoodReward: answerLogProbs is NaN at a real/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([good, mask, wrongRank, wrongShape, halfMask, nanLogProbs]);
  });

  it('properties: probability forms in [0, 1], prob ≤ geo-mean-prob ≤ mean-prob, log-prob-mean between min and max', () => {
    const row = fc.array(fc.double({ min: -20, max: 0, noNaN: true }), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 5 }), (rows) => {
        const rounded = rows.map((r) => r.map((v) => Math.fround(v)));
        const prob = rewardOf(rounded, 'prob');
        const geo = rewardOf(rounded, 'geo-mean-prob');
        const mean = rewardOf(rounded, 'mean-prob');
        const logMean = rewardOf(rounded, 'log-prob-mean');
        rounded.forEach((r, i) => {
          for (const v of [prob[i], geo[i], mean[i]] as number[]) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
          const slack = 1e-5;
          expect(prob[i] as number).toBeLessThanOrEqual((geo[i] as number) + slack);
          expect(geo[i] as number).toBeLessThanOrEqual((mean[i] as number) + slack);
          expect(logMean[i] as number).toBeGreaterThanOrEqual(Math.min(...r) - slack * 20);
          expect(logMean[i] as number).toBeLessThanOrEqual(Math.max(...r) + slack * 20);
        });
      }),
      { numRuns: 60, seed: 42 },
    );
  });
});
