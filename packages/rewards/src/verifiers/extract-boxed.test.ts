import { describe, expect, it } from 'vitest';
import { extractBoxed } from './extract-boxed.js';

describe('extractBoxed', () => {
  it.each([
    ['so \\boxed{42}.', '42'],
    ['\\boxed{\\frac{3}{4}}', '\\frac{3}{4}'],
    ['first \\boxed{1} then \\boxed{ {a}{b{c}} }', '{a}{b{c}}'],
    ['\\boxed{}', ''],
    ['\\boxed{5} and an unclosed \\boxed{6', '5'],
    ['\\boxed{unclosed', undefined],
    ['no box here', undefined],
    ['\\boxed 5', undefined],
  ] as const)('%j → %j', (text, expected) => {
    expect(extractBoxed(text)).toBe(expected);
  });

  it('throws naming the function on a non-string', () => {
    expect(() => extractBoxed(null as never)).toThrow(/^extractBoxed: text must be a string/);
  });
});
