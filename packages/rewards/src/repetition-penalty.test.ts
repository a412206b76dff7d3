import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { repetitionPenalty } from './repetition-penalty.js';

/** Naive oracle: compare every window with every other, word by word. */
function oracle(text: string, windowWords: number, minRepeats: number): 0 | -1 {
  const words = text.split(/[\s_]+/).filter((w) => w !== '');
  const windows = words.length - windowWords + 1;
  for (let i = 0; i < windows; i += 1) {
    let count = 0;
    for (let j = 0; j < windows; j += 1) {
      let same = true;
      for (let k = 0; k < windowWords; k += 1) if (words[i + k] !== words[j + k]) same = false;
      if (same) count += 1;
    }
    if (count >= minRepeats) return -1;
  }
  return 0;
}

describe('repetitionPenalty', () => {
  const phrase = 'one two three four five six seven eight nine ten';

  it('fires at exactly 10 repeats of a 10-word window with the RLPR defaults', () => {
    expect(repetitionPenalty({ text: Array(10).fill(phrase).join(' ') })).toBe(-1);
    expect(repetitionPenalty({ text: Array(9).fill(phrase).join(' ') })).toBe(0);
    // Overlapping windows count: one word repeated 19 times holds the same 10-word window 10 times.
    expect(repetitionPenalty({ text: Array(19).fill('a').join(' ') })).toBe(-1);
    expect(repetitionPenalty({ text: Array(18).fill('a').join(' ') })).toBe(0);
  });

  it('splits on runs of whitespace and underscores', () => {
    const text = Array(10).fill('a_b__c\n\td  e_f g h i j').join('_');
    expect(repetitionPenalty({ text })).toBe(-1);
    expect(repetitionPenalty({ text: 'a_a_a_a', windowWords: 1, minRepeats: 4 })).toBe(-1);
    expect(repetitionPenalty({ text: 'aaaa', windowWords: 1, minRepeats: 2 })).toBe(0);
  });

  it('returns 0 for short or empty texts', () => {
    expect(repetitionPenalty({ text: '' })).toBe(0);
    expect(repetitionPenalty({ text: 'a b c' })).toBe(0);
  });

  it('property: matches the naive all-pairs oracle on random small-vocabulary texts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('x', 'y', 'z', '_', ' ', '\n', 'xy'), { maxLength: 80 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (pieces, windowWords, minRepeats) => {
          const text = pieces.join(' ');
          expect(repetitionPenalty({ text, windowWords, minRepeats })).toBe(
            oracle(text, windowWords, minRepeats),
          );
        },
      ),
      { numRuns: 300, seed: 8 },
    );
  });

  it('handles a long looping response quickly (Map of windows, no quadratic scan)', () => {
    const words = Array.from({ length: 50_000 }, (_, i) => `w${i}`);
    expect(repetitionPenalty({ text: words.join(' ') })).toBe(0);
  });

  it('throws errors naming the function and the argument', () => {
    expect(() => repetitionPenalty({ text: 'a', windowWords: 0 })).toThrow(
      /^repetitionPenalty: windowWords must be a positive integer/,
    );
    expect(() => repetitionPenalty({ text: 'a', minRepeats: 2.5 })).toThrow(
      /^repetitionPenalty: minRepeats must be a positive integer/,
    );
    expect(() => repetitionPenalty({ text: undefined as never })).toThrow(
      /^repetitionPenalty: text must be a string/,
    );
  });
});
