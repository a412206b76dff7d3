import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReward } from './format-reward.js';
import { defaultRewardTags } from './reward-tags.js';
import type { RewardTags } from './reward-tags.js';
import { makeGeneratedText } from './testing/index.js';

const thinking: RewardTags = {
  thinkOpen: '<thinking>',
  thinkClose: '</thinking>',
  answerOpen: '<answer>',
  answerClose: '</answer>',
};

describe('formatReward', () => {
  it.each([
    ['7 sixes: 42.</think>\n<answer>42</answer>', 1],
    ['</think><answer> x </answer>', 1],
    ['trace</think>\n<answer>42</answer>\ntrailing text', 1],
    ['trace</think>\n<answer>   </answer>', 0],
    ['trace</think>\n<answer></answer>', 0],
    ['<think>trace</think>\n<answer>42</answer>', 0],
    ['trace</think>\n<answer>42</answer><think>', 0],
    ['trace</think></think>\n<answer>42</answer>', 0],
    ['trace</think>\n<answer>42</answer></answer>', 0],
    ['trace</think>\n<answer><answer>42</answer>', 0],
    ['trace\n<answer>42</answer></think>', 0],
    ['trace</think>\n</answer>42<answer>', 0],
    ['trace</think>\n<answer>42', 0],
    ['trace without tags', 0],
    ['', 0],
  ] as const)('%j → %i', (text, expected) => {
    expect(formatReward({ text })).toBe(expected);
  });

  it('follows the configured tags, never literals', () => {
    const text = 'trace</thinking>\n<answer>42</answer>';
    expect(formatReward({ text, tags: thinking })).toBe(1);
    expect(formatReward({ text })).toBe(0);
    expect(formatReward({ text: 'trace</think>\n<answer>42</answer>', tags: thinking })).toBe(0);
  });

  it('property: makeGeneratedText with a tag-free trace scores 1 iff the answer is not blank', () => {
    // Without '<' and '>' no random string can contain or complete a tag.
    const tagFree = fc.string({ maxLength: 40 }).filter((s) => !/[<>]/.test(s));
    fc.assert(
      fc.property(
        tagFree,
        tagFree,
        fc.constantFrom(defaultRewardTags, thinking),
        (trace, answer, tags) => {
          const text = makeGeneratedText({ trace, answer, tags });
          expect(formatReward({ text, tags })).toBe(answer.trim().length > 0 ? 1 : 0);
          // Prepending the prompt's thinkOpen always breaks the format.
          expect(formatReward({ text: tags.thinkOpen + text, tags })).toBe(0);
        },
      ),
      { numRuns: 200, seed: 1 },
    );
  });

  it('throws errors naming the function and the argument', () => {
    expect(() => formatReward({ text: 42 as never })).toThrow(
      /^formatReward: text must be a string/,
    );
    expect(() => formatReward({ text: 'x', tags: { ...thinking, answerOpen: '' } })).toThrow(
      /^formatReward: tags.answerOpen must be a non-empty string/,
    );
    expect(() => formatReward({ text: 'x', tags: null as never })).toThrow(
      /^formatReward: tags must be an object/,
    );
  });
});
