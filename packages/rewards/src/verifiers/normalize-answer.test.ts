import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeAnswer } from './normalize-answer.js';

describe('normalizeAnswer', () => {
  it.each([
    ['  Paris  ', 'paris'],
    ['New   York\n City', 'new york city'],
    ['42.', '42'],
    ['$42$', '42'],
    ['$$x + 1$$', 'x + 1'],
    [' $42$. ', '42'],
    ['$3.5$', '3.5'],
    ['0.5', '0.5'],
    ['1,000', '1,000'],
    ['$', '$'],
    ['', ''],
  ] as const)('%j → %j', (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });

  it('property: idempotent, lower-case, no edge or repeated whitespace', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        const n = normalizeAnswer(s);
        expect(normalizeAnswer(n)).toBe(n);
        expect(n).toBe(n.toLowerCase());
        expect(/^\s|\s$|\s\s/.test(n)).toBe(false);
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it('throws naming the function on a non-string', () => {
    expect(() => normalizeAnswer(3 as never)).toThrow(/^normalizeAnswer: answer must be a string/);
  });
});
