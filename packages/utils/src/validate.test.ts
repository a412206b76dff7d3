import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NonFiniteInputError } from './errors.js';
import {
  InputChecks,
  asFloat32,
  assertFinite,
  assertNoNaN,
  assertSameShape,
  assertTensor,
  assertTensorOfRank,
} from './validate.js';
import { resolve } from './resolve.js';

let before: number;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

describe('single checks', () => {
  it('assertTensor refuses non-tensors, disposed and string tensors by name', () => {
    expect(() => assertTensor('f', 'x', 3)).toThrow('f: x must be a tf.Tensor');
    const s = tf.tensor1d(['a'], 'string');
    expect(() => assertTensor('f', 'x', s)).toThrow(
      "f: x must hold numbers (float32, int32 or bool) but has dtype 'string'",
    );
    expect(() => assertTensorOfRank('g', 'y', s, 1, '[B]')).toThrow(/g: y must hold numbers/);
    s.dispose();
    expect(() => assertTensor('f', 'x', s)).toThrow('f: x was already disposed');
    const b = tf.tensor1d([true], 'bool');
    expect(() => assertTensor('f', 'x', b)).not.toThrow();
    b.dispose();
  });

  it('NaN/±Infinity checks throw NonFiniteInputError naming function and argument', () => {
    const t = tf.tensor1d([1, Infinity]);
    let caught: unknown;
    try {
      assertFinite('grpoLoss', 'logProbs', t);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NonFiniteInputError);
    expect((caught as NonFiniteInputError).fn).toBe('grpoLoss');
    expect((caught as NonFiniteInputError).argument).toBe('logProbs');
    expect(() => assertNoNaN('f', 'x', t)).not.toThrow();
    const n = tf.tensor1d([Number.NaN]);
    expect(() => assertNoNaN('f', 'x', n, 'contains NaN (here)')).toThrow(
      new NonFiniteInputError('f', 'x', 'contains NaN (here)'),
    );
    tf.dispose([t, n]);
  });

  it('assertSameShape names the second argument', () => {
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([3, 2]);
    expect(() => assertSameShape('f', 'a', a, 'b', b)).toThrow(
      'f: b has shape [3, 2] but must match a [2, 3]',
    );
    tf.dispose([a, b]);
  });

  it('asFloat32 casts int32 and bool once and returns float32 as is', () => {
    const f = tf.tensor1d([1, 0]);
    expect(asFloat32(f)).toBe(f);
    const i = tf.tensor1d([1, 0], 'int32');
    const b = tf.tensor1d([true, false], 'bool');
    tf.tidy(() => {
      expect(asFloat32(i).dtype).toBe('float32');
      expect(Array.from(asFloat32(b).dataSync())).toEqual([1, 0]);
    });
    tf.dispose([f, i, b]);
  });
});

describe('InputChecks', () => {
  it('reads every flag back in one device read and throws the first failure in order', () => {
    const good = tf.tensor2d([[-1, -2]]);
    const nan = tf.tensor2d([[Number.NaN, -1]]);
    const positive = tf.tensor2d([[0.5, -1]]);
    const mask = tf.tensor2d([[1, 2]]);
    const engine = tf.engine();
    const spy = vi.spyOn(engine, 'readSync');
    const ones = tf.onesLike(good);
    const ok = new InputChecks('covrlLoss')
      .finite('a', good)
      .atMostZero('a', good)
      .binary('m', ones);
    expect(ok.size).toBe(3);
    ok.run();
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockClear();
    const bad = new InputChecks('covrlLoss')
      .finite('good', good)
      .atMostZero('positive', positive)
      .finite('nan', nan)
      .mask('mask', mask)
      .binary('mask', mask);
    expect(() => bad.run()).toThrow(
      'covrlLoss: positive holds values above 0; pass log-probabilities (≤ 0), not logits or probabilities',
    );
    expect(spy).toHaveBeenCalledTimes(1);
    expect(() => new InputChecks('f').finite('nan', nan).run()).toThrow(NonFiniteInputError);
    expect(() => new InputChecks('f').binary('mask', mask).run()).toThrow(
      'f: mask must hold only 0 and 1',
    );
    spy.mockRestore();
    tf.dispose([good, nan, positive, mask, ones]);
  });

  it('checks only where `where` > 0 and skips empty tensors', () => {
    const x = tf.tensor2d([[Number.NaN, -1]]);
    const where = tf.tensor2d([[0, 1]]);
    expect(() => new InputChecks('f').finite('x', x, where).run()).not.toThrow();
    const empty = tf.zeros([0, 3]);
    const checks = new InputChecks('f').finite('e', empty).binary('e', empty);
    expect(checks.size).toBe(0);
    tf.dispose([x, where, empty]);
  });

  it('does nothing, and reads nothing back, when disabled (validate: false)', () => {
    const nan = tf.tensor1d([Number.NaN]);
    const spy = vi.spyOn(tf.engine(), 'readSync');
    const checks = new InputChecks('f', false).finite('x', nan).custom('x', 'bad', () => nan);
    expect(checks.size).toBe(1); // custom checks are recorded but not run either
    checks.run();
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    nan.dispose();
  });
});

describe('resolve', () => {
  const registry = Object.freeze({ one: () => 1, two: () => 2 });
  it('passes functions through, looks names up, and lists the valid names otherwise', () => {
    const f = () => 3;
    expect(resolve('f', 'opt', f, registry)).toBe(f);
    expect(resolve('f', 'opt', 'two', registry)()).toBe(2);
    expect(() => resolve('f', 'opt', 'toString', registry)).toThrow(
      "f: opt 'toString' is unknown; valid names: one, two",
    );
  });
});
