import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteInputError } from '@covrl/utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compositeKl } from './composite-kl.js';
import { k3 } from './k3.js';

let before: number;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

const prior = () =>
  tf.tensor2d([
    [-0.5, -1.2],
    [-0.9, -0.4],
  ]);
const posterior = () =>
  tf.tensor2d([
    [-0.4, -0.2],
    [-0.3, -0.6],
  ]);

describe('compositeKl and the per-token estimators: inputs', () => {
  it('accepts sampledFromPrior as float32, int32 or bool with the same values', () => {
    tf.tidy(() => {
      const want = compositeKl({
        priorLogProbs: prior(),
        posteriorLogProbs: posterior(),
        sampledFromPrior: tf.tensor1d([1, 0]),
      }).arraySync();
      for (const flags of [tf.tensor1d([1, 0], 'int32'), tf.tensor1d([true, false], 'bool')]) {
        const got = compositeKl({
          priorLogProbs: prior(),
          posteriorLogProbs: posterior(),
          sampledFromPrior: flags,
        }).arraySync();
        expect(got).toEqual(want);
      }
    });
  });

  it('NaN/±Infinity throws NonFiniteInputError; a string tensor a named error', () => {
    tf.tidy(() => {
      const bad = tf.tensor2d([
        [-0.5, Infinity],
        [-0.9, -0.4],
      ]);
      let caught: unknown;
      try {
        compositeKl({
          priorLogProbs: prior(),
          posteriorLogProbs: bad,
          sampledFromPrior: tf.ones([2]),
        });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(NonFiniteInputError);
      expect((caught as NonFiniteInputError).argument).toBe('posteriorLogProbs');
      expect(() => k3({ logProbs: tf.tensor1d([Number.NaN]), refLogProbs: tf.zeros([1]) })).toThrow(
        NonFiniteInputError,
      );
      expect(() => k3({ logProbs: tf.tensor1d(['a']), refLogProbs: tf.zeros([1]) })).toThrow(
        "k3: logProbs must hold numbers (float32, int32 or bool) but has dtype 'string'",
      );
    });
  });

  it('reads back once per call, and never with validate: false', () => {
    tf.tidy(() => {
      const x = {
        priorLogProbs: prior(),
        posteriorLogProbs: posterior(),
        sampledFromPrior: tf.ones([2]),
      };
      const spy = vi.spyOn(tf.engine(), 'readSync');
      compositeKl(x);
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockClear();
      compositeKl({ ...x, validate: false });
      k3({ logProbs: prior(), refLogProbs: posterior(), validate: false });
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    });
  });
});
