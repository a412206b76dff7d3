import { describe, expect, it } from 'vitest';
import { posteriorAnswerLeak, rolloutStats } from './stats.js';
import { charTokenizer } from './testing/index.js';

const tokenizer = charTokenizer();
const enc = (text: string): number[] => tokenizer.encode(text);

describe('rolloutStats', () => {
  it('computes fractions and lengths by hand', () => {
    const rows = [
      { source: 'prior', traceIds: [1, 2, 3], truncated: false, wellFormed: true },
      { source: 'prior', traceIds: [1], truncated: false, wellFormed: false },
      { source: 'posterior', traceIds: [1, 2, 3, 4, 5, 6], truncated: true, wellFormed: false },
      { source: 'posterior', traceIds: [1, 2], truncated: false, wellFormed: true },
    ] as const;
    expect(rolloutStats(rows)).toEqual({
      priorFraction: 0.5,
      truncatedFraction: 0.25,
      malformedFraction: 0.5,
      traceMean: 3,
      tracePriorMean: 2,
      tracePosteriorMean: 4,
      traceMax: 6,
    });
    expect(rolloutStats(rows.slice(0, 2)).tracePosteriorMean).toBe(0);
    expect(() => rolloutStats([])).toThrow(/rolloutStats: rollouts/);
  });
});

describe('posteriorAnswerLeak', () => {
  it('counts posterior traces containing the answer, skipping short answers and prior rows', () => {
    const rollouts = [
      { exampleIndex: 0, source: 'posterior', traceIds: enc('so it is Paris</think>') },
      { exampleIndex: 0, source: 'posterior', traceIds: enc('no idea</think>') },
      { exampleIndex: 0, source: 'prior', traceIds: enc('Paris</think>') },
      { exampleIndex: 1, source: 'posterior', traceIds: enc('42 of course</think>') },
      { exampleIndex: 2, source: 'posterior', traceIds: enc('ends with abc</think>') },
    ] as const;
    const answers = ['Paris', '42', 'abc</think>'];
    const thinkClose = enc('</think>');
    // counted: rows 0, 1, 4 (row 3 answer has 2 characters < 3); leaked: row 0 only, since the
    // closing tag is cut before searching row 4.
    expect(posteriorAnswerLeak({ rollouts, answers, tokenizer, thinkClose })).toBeCloseTo(
      1 / 3,
      12,
    );
    expect(posteriorAnswerLeak({ rollouts, answers, tokenizer })).toBeCloseTo(2 / 3, 12);
    expect(posteriorAnswerLeak({ rollouts, answers, tokenizer, minChars: 2, thinkClose })).toBe(
      0.5,
    );
    expect(posteriorAnswerLeak({ rollouts: rollouts.slice(2, 3), answers, tokenizer })).toBe(0);
    expect(() => posteriorAnswerLeak({ rollouts, answers: [], tokenizer })).toThrow(
      /posteriorAnswerLeak: answers has no entry/,
    );
  });
});
