import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNumericAnswer } from './parse-numeric-answer.js';

describe('parseNumericAnswer', () => {
  it.each([
    ['42', 42],
    ['-42', -42],
    ['+7', 7],
    ['\u22123', -3],
    ['0.75', 0.75],
    ['.5', 0.5],
    ['3.', 3],
    ['1,234', 1234],
    ['-1,234,567.25', -1234567.25],
    ['1.5e-3', 0.0015],
    ['2E+10', 2e10],
    [' $-42$. ', -42],
    ['1,23', undefined],
    ['12,3456', undefined],
    ['3/4', undefined],
    ['42 apples', undefined],
    ['1e999', undefined],
    ['', undefined],
    ['-', undefined],
  ] as const)('%j → %j', (input, expected) => {
    expect(parseNumericAnswer(input)).toBe(expected);
  });

  it('property: round-trips every finite double written by String()', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        // String(-0) is "0", hence `x + 0`.
        expect(parseNumericAnswer(String(x))).toBe(x + 0);
      }),
      { numRuns: 300, seed: 4 },
    );
  });

  it('property: thousands separators do not change the value', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), (n) => {
        expect(parseNumericAnswer(n.toLocaleString('en-US'))).toBe(n);
      }),
      { numRuns: 200, seed: 6 },
    );
  });
});
