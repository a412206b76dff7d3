import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { getVerifier, verifierNames, verifiers } from './verifiers.js';
import type { VerifierName } from './verifiers.js';

/** [predicted, reference, names of the verifiers that must accept the pair]. */
const table: ReadonlyArray<readonly [string, string, readonly VerifierName[]]> = [
  ['Paris', 'paris', ['exact', 'auto']],
  ['  New  York. ', 'new york', ['exact', 'auto']],
  ['$42$', '42', ['exact', 'numeric', 'fraction', 'auto']],
  ['1,234', '1234', ['numeric', 'fraction', 'auto']],
  ['1234.0000001', '1234', ['numeric', 'fraction', 'auto']],
  ['-0.5', '-1/2', ['fraction', 'auto']],
  ['3/4', '0.75', ['fraction', 'auto']],
  ['\\frac{3}{4}', '3/4', ['fraction', 'auto']],
  ['1.5e3', '1500', ['numeric', 'fraction', 'auto']],
  ['(B)', 'B', ['choice', 'auto']],
  ['b)', 'B', ['choice', 'auto']],
  ['B. Paris', 'B', ['choice', 'auto']],
  ['The answer is B', 'B', ['choice', 'auto']],
  ['so \\boxed{42}', '42', ['auto']],
  ['1235', '1234', []],
  ['0.7501', '3/4', []],
  ['C', 'B', []],
  ['the answer is a cat', 'A', []],
  ['0.000001', '0', []],
  ['', '0', []],
  ['Paris', 'London', []],
];

describe('verifiers registry', () => {
  it('holds the five named verifiers, frozen', () => {
    expect([...verifierNames]).toEqual(['exact', 'numeric', 'fraction', 'choice', 'auto']);
    expect(Object.isFrozen(verifiers)).toBe(true);
  });

  it.each(table)('%j vs %j is accepted by exactly %j', (predicted, reference, accepted) => {
    for (const name of verifierNames) {
      expect(verifiers[name]({ predicted, reference }), name).toBe(accepted.includes(name));
    }
  });

  it('uses a relative tolerance that the caller can set', () => {
    expect(verifiers.numeric({ predicted: '100.00009', reference: '100' })).toBe(true);
    expect(verifiers.numeric({ predicted: '100.0002', reference: '100' })).toBe(false);
    expect(verifiers.numeric({ predicted: '100.0002', reference: '100', tolerance: 1e-5 })).toBe(
      true,
    );
    expect(verifiers.numeric({ predicted: '1e-12', reference: '0' })).toBe(false);
    expect(verifiers.numeric({ predicted: '-0', reference: '0' })).toBe(true);
    expect(() => verifiers.auto({ predicted: '1', reference: '1', tolerance: -1 })).toThrow(
      /^verifiers.auto: tolerance must be a finite number ≥ 0/,
    );
  });

  it('getVerifier returns Right for known names and a Left listing valid names otherwise', () => {
    const found = getVerifier('choice');
    expect(isRight(found) && found.right).toBe(verifiers.choice);
    const missing = getVerifier('regex');
    expect(isLeft(missing) && missing.left).toBe(
      "getVerifier: unknown verifier 'regex'; valid names: exact, numeric, fraction, choice, auto",
    );
    expect(isLeft(getVerifier('constructor'))).toBe(true);
  });
});
