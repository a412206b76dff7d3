import { describe, expect, it } from 'vitest';
import { parseRationalAnswer } from './parse-rational-answer.js';

describe('parseRationalAnswer', () => {
  it.each([
    ['3/4', 0.75],
    ['-3/4', -0.75],
    [' 3 / 4 ', 0.75],
    ['\\frac{3}{4}', 0.75],
    ['\\dfrac{3}{4}', 0.75],
    ['\\tfrac{1}{8}', 0.125],
    ['-\\frac{3}{4}', -0.75],
    ['$\\frac{3}{4}$', 0.75],
    ['\\frac34', 0.75],
    ['1.5/3', 0.5],
    ['1,000/4', 250],
    ['0.75', 0.75],
    ['3/0', undefined],
    ['\\frac{x}{2}', undefined],
    ['1/2/3', undefined],
    ['a/b', undefined],
  ] as const)('%j → %j', (input, expected) => {
    expect(parseRationalAnswer(input)).toBe(expected);
  });
});
