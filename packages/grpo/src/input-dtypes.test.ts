import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteInputError } from '@covrl/utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { aggregateLoss } from './aggregate-loss.js';
import { aggregations } from './aggregations.js';
import { clipFractions } from './clip-fractions.js';
import { clippedSurrogate } from './clipped-surrogate.js';
import { groupAdvantages } from './group-advantages.js';

let before: number;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

const loss = () =>
  tf.tensor2d([
    [0.5, -1, 2],
    [3, 0.25, -0.5],
  ]);
const maskValues = [
  [1, 1, 0],
  [1, 0, 0],
];

describe('input dtypes', () => {
  it('every aggregation gives the float32-mask value for int32 and bool masks', () => {
    tf.tidy(() => {
      const l = loss();
      const float = tf.tensor2d(maskValues);
      const int = tf.tensor2d(maskValues, undefined, 'int32');
      const bool = tf.tensor2d(
        maskValues.map((r) => r.map((v) => v === 1)),
        undefined,
        'bool',
      );
      for (const [name, aggregate] of Object.entries(aggregations)) {
        const want = aggregate({ loss: l, mask: float }).dataSync()[0];
        expect(aggregate({ loss: l, mask: int }).dataSync()[0], name).toBe(want);
        expect(aggregate({ loss: l, mask: bool }).dataSync()[0], name).toBe(want);
      }
      const fractions = clipFractions({
        logRatio: tf.tensor2d([
          [1, 0, 0],
          [0, 0, 0],
        ]),
        advantages: tf.tensor1d([1, -1], 'int32'),
        mask: bool,
      });
      expect(fractions.clipFraction).toBeCloseTo(1 / 3, 6);
    });
  });

  it('a string tensor gets a named error, not a TF.js kernel message', () => {
    tf.tidy(() => {
      const s = tf.tensor2d([
        ['a', 'b', 'c'],
        ['d', 'e', 'f'],
      ]);
      expect(() => aggregateLoss({ loss: loss(), mask: s })).toThrow(
        "aggregateLoss: mask must hold numbers (float32, int32 or bool) but has dtype 'string'",
      );
      expect(() => groupAdvantages({ rewards: tf.tensor1d(['a', 'b']), groupSize: 2 })).toThrow(
        /groupAdvantages: rewards must hold numbers/,
      );
    });
  });

  it('NaN/±Infinity inputs throw NonFiniteInputError naming function and argument', () => {
    tf.tidy(() => {
      const rewards = tf.tensor1d([1, Number.NaN]);
      expect(() => groupAdvantages({ rewards, groupSize: 2 })).toThrow(NonFiniteInputError);
      const error = (() => {
        try {
          clippedSurrogate({ logRatio: tf.zeros([1, 2]), advantages: tf.tensor1d([Infinity]) });
        } catch (e) {
          return e as NonFiniteInputError;
        }
        return undefined;
      })();
      expect(error?.name).toBe('NonFiniteInputError');
      expect([error?.fn, error?.argument]).toEqual(['clippedSurrogate', 'advantages']);
    });
  });

  it('validate: false reads nothing back; the default reads once per call', () => {
    tf.tidy(() => {
      const l = loss();
      const mask = tf.tensor2d(maskValues);
      const spy = vi.spyOn(tf.engine(), 'readSync');
      aggregateLoss({ loss: l, mask, validate: false });
      clippedSurrogate({ logRatio: l, advantages: tf.ones([2]), validate: false });
      groupAdvantages({ rewards: tf.ones([4]), groupSize: 2, validate: false });
      expect(spy).not.toHaveBeenCalled();
      aggregateLoss({ loss: l, mask });
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockClear();
      clippedSurrogate({ logRatio: l, advantages: tf.ones([2]) });
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockRestore();
    });
  });
});

describe('registry name lists', () => {
  it('list every key of their registry and include the built-ins', async () => {
    const { advantageMethodNames, aggregationNames, surrogateNames } =
      await import('./registry.js');
    const { advantageMethods } = await import('./advantage-methods.js');
    const { surrogates } = await import('./surrogates.js');
    expect(advantageMethodNames).toEqual(Object.keys(advantageMethods));
    expect(surrogateNames).toEqual(Object.keys(surrogates));
    expect(aggregationNames).toEqual(Object.keys(aggregations));
    expect(advantageMethodNames).toEqual(expect.arrayContaining(['grpo', 'dr-grpo', 'rloo']));
    expect(surrogateNames).toEqual(expect.arrayContaining(['ppo-clip', 'pg', 'reinforce']));
    expect(aggregationNames).toEqual(expect.arrayContaining(['token-mean', 'seq-mean-token-sum']));
    for (const list of [advantageMethodNames, surrogateNames, aggregationNames]) {
      expect(Object.isFrozen(list)).toBe(true);
    }
  });
});

describe('number inputs', () => {
  it('a NaN group std throws NonFiniteInputError from the std filter', async () => {
    const { stdFilterInit, stdFilterKeep } = await import('./std-filter.js');
    const state = stdFilterInit();
    let caught: unknown;
    try {
      stdFilterKeep(state, { step: 1, groupStds: [0.5, Number.NaN] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteInputError);
    expect((caught as NonFiniteInputError).argument).toBe('groupStds');
    expect(() => stdFilterKeep(state, { step: 1, groupStds: [-1] })).toThrow(
      /groupStds must be an array of finite numbers ≥ 0/,
    );
  });
});
