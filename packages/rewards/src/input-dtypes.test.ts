import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteInputError } from '@covrl/utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { answerLikelihoodReward } from './answer-likelihood-reward.js';
import { rewardFormNames } from './reward-form-names.js';

let before: number;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

const lp = [
  [-0.5, -1, -4],
  [-0.2, -0.3, -0.1],
];
const mask = [
  [1, 1, 0],
  [1, 0, 0],
];

describe('answerLikelihoodReward inputs', () => {
  it('gives the float32-mask values for int32 and bool masks, every form', () => {
    tf.tidy(() => {
      const logProbs = tf.tensor2d(lp);
      for (const form of rewardFormNames) {
        const want = answerLikelihoodReward({
          answerLogProbs: logProbs,
          answerMask: tf.tensor2d(mask),
          form,
        }).arraySync();
        for (const m of [
          tf.tensor2d(mask, undefined, 'int32'),
          tf.cast(tf.tensor2d(mask), 'bool'),
        ]) {
          expect(
            answerLikelihoodReward({ answerLogProbs: logProbs, answerMask: m, form }).arraySync(),
          ).toEqual(want);
        }
      }
    });
  });

  it('names string tensors and log-probs above 0; NaN throws NonFiniteInputError', () => {
    tf.tidy(() => {
      const m = tf.tensor2d(mask);
      expect(() =>
        answerLikelihoodReward({
          answerLogProbs: tf.tensor2d([
            ['a', 'b', 'c'],
            ['d', 'e', 'f'],
          ]),
          answerMask: m,
          form: 'prob',
        }),
      ).toThrow(
        "answerLikelihoodReward: answerLogProbs must hold numbers (float32, int32 or bool) but has dtype 'string'",
      );
      expect(() =>
        answerLikelihoodReward({
          answerLogProbs: tf.tensor2d([
            [0.5, -1, 9],
            [-1, 9, 9],
          ]),
          answerMask: m,
          form: 'prob',
        }),
      ).toThrow(/^answerLikelihoodReward: answerLogProbs holds values above 0 at a real/);
      // Above 0 only at padding: fine.
      expect(() =>
        answerLikelihoodReward({
          answerLogProbs: tf.tensor2d([
            [-0.5, -1, 9],
            [-1, 9, 9],
          ]),
          answerMask: m,
          form: 'prob',
        }),
      ).not.toThrow();
      let caught: unknown;
      try {
        answerLikelihoodReward({
          answerLogProbs: tf.tensor2d([
            [Number.NaN, -1, 0],
            [-1, 0, 0],
          ]),
          answerMask: m,
          form: 'prob',
        });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(NonFiniteInputError);
      expect((caught as NonFiniteInputError).argument).toBe('answerLogProbs');
    });
  });

  it('reads back once, and never with validate: false', () => {
    tf.tidy(() => {
      const args = {
        answerLogProbs: tf.tensor2d(lp),
        answerMask: tf.tensor2d(mask),
        form: 'log-prob-sum' as const,
      };
      const spy = vi.spyOn(tf.engine(), 'readSync');
      answerLikelihoodReward(args);
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockClear();
      answerLikelihoodReward({ ...args, validate: false });
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    });
  });
});
