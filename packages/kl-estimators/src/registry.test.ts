import * as tf from '@tensorflow/tfjs';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { k3 } from './k3.js';
import { getKlEstimator, klEstimatorNames, klEstimators } from './registry.js';
import type { KlEstimator } from './types.js';

describe('klEstimators / getKlEstimator', () => {
  // "Includes", not an exact list: adding a built-in (docs/guides/new-estimator.md) keeps this green.
  const BUILT_INS = ['k1', 'abs', 'k2', 'k3', 'lowVarKl'];

  it('includes the five built-ins, lists them in klEstimatorNames, and is frozen', () => {
    expect(Object.keys(klEstimators)).toEqual(expect.arrayContaining(BUILT_INS));
    expect(klEstimatorNames).toEqual(Object.keys(klEstimators));
    expect(Object.isFrozen(klEstimatorNames)).toBe(true);
    expect(Object.isFrozen(klEstimators)).toBe(true);
    expect(klEstimators.k3).toBe(k3);
  });

  it('finds every built-in by name', () => {
    for (const [name, fn] of Object.entries(klEstimators)) {
      expect(getKlEstimator(name)).toEqual(E.right(fn));
    }
  });

  it('returns a Left listing the valid names for an unknown name (prototype keys included)', () => {
    for (const name of ['k4', 'toString', 'constructor', '']) {
      const found = getKlEstimator(name);
      expect(E.isLeft(found)).toBe(true);
      if (E.isLeft(found)) {
        expect(found.left).toMatch(/^getKlEstimator: name/);
        for (const name of BUILT_INS) expect(found.left).toContain(name);
      }
    }
  });

  it('looks up in an extended registry built by spreading', () => {
    const half: KlEstimator = (x) => tf.tidy(() => tf.mul(0.5, k3(x)));
    const mine = { ...klEstimators, half } as const;
    expect(getKlEstimator('half', mine)).toEqual(E.right(half));
    const missing = getKlEstimator('k9', mine);
    expect(E.isLeft(missing) && missing.left.includes('half')).toBe(true);
  });
});
