import { describe, expect, it } from 'vitest';
import { parseChoiceAnswer } from './parse-choice-answer.js';

describe('parseChoiceAnswer', () => {
  it.each([
    ['B', 'B'],
    ['b', 'B'],
    ['(B)', 'B'],
    ['b)', 'B'],
    ['B.', 'B'],
    ['C:', 'C'],
    ['B. Paris', 'B'],
    ['(d) 42', 'D'],
    ['The answer is B', 'B'],
    ['The answer is (c).', 'C'],
    ['answer: D', 'D'],
    ['Option J', 'J'],
    ['the answer is a cat', undefined],
    ['Paris', undefined],
    ['K', undefined],
    ['AB', undefined],
    ['', undefined],
  ] as const)('%j → %j', (input, expected) => {
    expect(parseChoiceAnswer(input)).toBe(expected);
  });

  it('bareOnly accepts only a bare letter', () => {
    expect(parseChoiceAnswer('(B)', { bareOnly: true })).toBe('B');
    expect(parseChoiceAnswer('B. Paris', { bareOnly: true })).toBeUndefined();
    expect(parseChoiceAnswer('The answer is B', { bareOnly: true })).toBeUndefined();
  });
});
