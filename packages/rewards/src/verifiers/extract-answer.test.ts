import { describe, expect, it } from 'vitest';
import type { RewardTags } from '../reward-tags.js';
import { extractAnswer } from './extract-answer.js';

const thinking: RewardTags = {
  thinkOpen: '<thinking>',
  thinkClose: '</thinking>',
  answerOpen: '[ans]',
  answerClose: '[/ans]',
};

describe('extractAnswer', () => {
  it.each([
    ['7 sixes: 42.</think>\n<answer>42</answer>', '42'],
    ['</think><answer>  forty two \n</answer>', 'forty two'],
    // The first answerOpen AFTER thinkClose wins; tags inside the trace are skipped.
    ['maybe <answer>41</answer> no</think>\n<answer>42</answer><answer>43</answer>', '42'],
    // No thinkClose: from the first answerOpen anywhere.
    ['<answer>7</answer> then <answer>8</answer>', '7'],
    ['</think>\n<answer></answer>', ''],
    ['</think>\n<answer>42', undefined],
    ['</think>\nno answer', undefined],
    ['<answer>42</answer></think> and nothing after', undefined],
    ['', undefined],
  ] as const)('%j → %j', (text, expected) => {
    expect(extractAnswer({ text })).toBe(expected);
  });

  it('follows configured tags', () => {
    expect(extractAnswer({ text: 'a</thinking> [ans] 5 [/ans]', tags: thinking })).toBe('5');
    expect(extractAnswer({ text: 'a</think><answer>5</answer>', tags: thinking })).toBeUndefined();
  });

  it('with allowUnclosed returns the rest of the text after answerOpen', () => {
    expect(extractAnswer({ text: 't</think>\n<answer> 42 ', allowUnclosed: true })).toBe('42');
    expect(extractAnswer({ text: 't</think>\n', allowUnclosed: true })).toBeUndefined();
  });

  it('throws errors naming the function and the argument', () => {
    expect(() => extractAnswer({ text: 1 as never })).toThrow(
      /^extractAnswer: text must be a string/,
    );
    expect(() => extractAnswer({ text: '', tags: { ...thinking, thinkClose: '' } })).toThrow(
      /^extractAnswer: tags.thinkClose must be a non-empty string/,
    );
  });
});
