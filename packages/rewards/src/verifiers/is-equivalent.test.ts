import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEquivalent } from './is-equivalent.js';

describe('isEquivalent', () => {
  it.each([
    ['42', '42', true],
    [' $42$. ', '42', true],
    ['1,234', '1234', true],
    ['-3', '\u22123', true],
    ['1e-3', '0.001', true],
    ['3/4', '0.75', true],
    ['\\frac{3}{4}', '0.75', true],
    ['The answer is B', 'B', true],
    ['b)', '(B)', true],
    ['\\boxed{\\frac{1}{2}}', '0.5', true],
    ['43', '42', false],
    ['B', 'C', false],
    ['forty-two', '42', false],
  ] as const)('%j vs %j → %s', (predicted, reference, expected) => {
    expect(isEquivalent(predicted, reference)).toBe(expected);
  });

  it('honours the tolerance option', () => {
    expect(isEquivalent('1.001', '1')).toBe(false);
    expect(isEquivalent('1.001', '1', { tolerance: 1e-2 })).toBe(true);
    expect(() => isEquivalent('1', '1', { tolerance: Number.NaN })).toThrow(
      /^isEquivalent: tolerance must be a finite number ≥ 0, got NaN/,
    );
    // Named after this function, not after the 'auto' verifier it delegates to.
    expect(() => isEquivalent('1', '1', { tolerance: -1 })).toThrow(
      /^isEquivalent: tolerance must be a finite number ≥ 0, got -1/,
    );
  });

  it('property: reflexive for any string, symmetric for numbers', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        expect(isEquivalent(s, s)).toBe(true);
      }),
      { numRuns: 200, seed: 9 },
    );
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        (a, b) => {
          expect(isEquivalent(String(a), String(b))).toBe(isEquivalent(String(b), String(a)));
        },
      ),
      { numRuns: 200, seed: 10 },
    );
  });

  it('throws naming the function on non-strings', () => {
    expect(() => isEquivalent(1 as never, '1')).toThrow(
      /^isEquivalent: predicted must be a string, got number/,
    );
    expect(() => isEquivalent('1', null as never)).toThrow(
      /^isEquivalent: reference must be a string, got null/,
    );
    expect(() => isEquivalent('1', '1', 5 as never)).toThrow(/^isEquivalent: options must be/);
  });
});
