import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { defaultRewardTags } from '../reward-tags.js';
import { makeAnswerLogProbs, makeGeneratedText, randomAnswerRows, seededRandom } from './index.js';

describe('@covrl/rewards/testing', () => {
  it('makeAnswerLogProbs pads ragged rows and builds the mask', () => {
    const { answerLogProbs, answerMask } = makeAnswerLogProbs({
      rows: [[-1, -2], [], [-3]],
      padValue: 7,
    });
    expect(answerLogProbs.arraySync()).toEqual([
      [-1, -2],
      [7, 7],
      [-3, 7],
    ]);
    expect(answerMask.arraySync()).toEqual([
      [1, 1],
      [0, 0],
      [1, 0],
    ]);
    tf.dispose([answerLogProbs, answerMask]);
    const empty = makeAnswerLogProbs({ rows: [[]] });
    expect(empty.answerLogProbs.shape).toEqual([1, 1]);
    expect(Number.isNaN(empty.answerLogProbs.dataSync()[0])).toBe(true);
    tf.dispose([empty.answerLogProbs, empty.answerMask]);
    expect(() => makeAnswerLogProbs({ rows: [[-1, -2]], answerLength: 1 })).toThrow(/answerLength/);
  });

  it('seededRandom and randomAnswerRows are deterministic per seed and in range', () => {
    const a = seededRandom(5);
    const b = seededRandom(5);
    const xs = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(100);
    const rows = randomAnswerRows({ batchSize: 50, maxLength: 4, minLength: 0, seed: 1 });
    expect(randomAnswerRows({ batchSize: 50, maxLength: 4, minLength: 0, seed: 1 })).toEqual(rows);
    expect(rows.every((r) => r.length <= 4 && r.every((v) => v <= 0 && v >= -5))).toBe(true);
    expect(new Set(rows.map((r) => r.length))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('makeGeneratedText builds trace, closing think tag, separator, answer block', () => {
    expect(makeGeneratedText({ trace: 'x', answer: '42' })).toBe('x</think>\n<answer>42</answer>');
    expect(
      makeGeneratedText({
        trace: 'x',
        answer: '1',
        separator: ' ',
        tags: { ...defaultRewardTags, thinkClose: '</thinking>' },
      }),
    ).toBe('x</thinking> <answer>1</answer>');
  });
});
