import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ScriptedPolicy, charTokenizer, greedyTokenizer } from './index.js';

describe('greedyTokenizer / charTokenizer', () => {
  it('encodes by longest match with offsets and decodes by concatenation', () => {
    const tok = greedyTokenizer(['a', 'b', 'ab', '<x>'], { eosToken: '<eos>' });
    expect(tok.encode('aab<x>b')).toEqual([0, 2, 3, 1]);
    expect(tok.encodeWithOffsets('aab<x>b').offsets).toEqual([
      [0, 1],
      [1, 3],
      [3, 6],
      [6, 7],
    ]);
    expect(tok.decode([0, 1, 4])).toBe('ab<eos>');
    expect(tok.eosId).toBe(4);
    expect(() => tok.encode('c')).toThrow(/greedyTokenizer.encode/);
    const chars = charTokenizer('ab');
    expect(chars.vocabSize).toBe(2);
    expect(chars.eosId).toBeUndefined();
  });
});

describe('ScriptedPolicy', () => {
  it('truncates scripts at the stop sequence (inclusive), EOS and the budget like a real policy', async () => {
    const policy = new ScriptedPolicy({
      vocabSize: 10,
      script: new Map([
        ['1', [2, 3, 4, 5, 3, 4]],
        ['2', [9, 3, 4]],
        ['3', [3, 3]],
      ]),
      fillId: 0,
    });
    const out = await policy.generate({
      prompts: [[1], [2], [3], [3]],
      maxNewTokens: 5,
      stopSequences: [[3, 4], [7]],
      eosId: 9,
      seeds: [1, 2, 3, 4],
      returnLogProbs: true,
    });
    expect(out.map((r) => [r.ids, r.finishReason])).toEqual([
      [[2, 3, 4], 'stop'],
      [[9], 'eos'],
      [[3, 3, 0, 0, 0], 'length'],
      [[3, 3, 0, 0, 0], 'length'],
    ]);
    expect(out[0]?.logProbs?.[1]).toBeCloseTo(policy.referenceLogProb([1, 2, 3], 2), 5);
    await expect(policy.generate({ prompts: [[5]], maxNewTokens: 2, seeds: [0] })).rejects.toThrow(
      /no script for prompt 5/,
    );
    policy.dispose();
  });

  it('samples its own distribution when unscripted; temperature 0 is arg-max', async () => {
    const policy = new ScriptedPolicy({ vocabSize: 6, seed: 2 });
    const greedy = await policy.generate({
      prompts: [[1]],
      maxNewTokens: 4,
      seeds: [0],
      temperature: 0,
    });
    const ids = greedy[0]?.ids ?? [];
    ids.forEach((tok, t) => {
      const dist = policy.referenceDistribution([1, ...ids.slice(0, t)]);
      expect(tok).toBe(dist.indexOf(Math.max(...dist)));
    });
    const a = await policy.generate({ prompts: [[1], [1]], maxNewTokens: 8, seeds: [5, 5] });
    expect(a[0]?.ids).toEqual(a[1]?.ids);
    policy.dispose();
  });

  it('scoreTokens: span log-probs match the naive oracle, rows without a span get length 0', () => {
    const policy = new ScriptedPolicy({ vocabSize: 8, seed: 3 });
    const before = tf.memory().numTensors;
    const out = policy.scoreTokens({
      sequences: [
        [1, 2, 3, 4],
        [5, 6],
      ],
      spans: {
        a: [
          { start: 1, length: 3 },
          { start: 1, length: 0 },
        ],
      },
    });
    expect(out.a.mask.arraySync()).toEqual([
      [1, 1, 1],
      [0, 0, 0],
    ]);
    const lp = out.a.logProbs.arraySync();
    [1, 2, 3].forEach((j, t) =>
      expect(lp[0]?.[t]).toBeCloseTo(policy.referenceLogProb([1, 2, 3, 4], j), 5),
    );
    expect(lp[1]?.map(Math.abs)).toEqual([0, 0, 0]); // padding is ±0
    tf.dispose([out.a.logProbs, out.a.mask]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() =>
      policy.scoreTokens({ sequences: [[1, 2]], spans: { a: [{ start: 0, length: 1 }] } }),
    ).toThrow(/spans.a\[0\]/);
    policy.dispose();
  });
});
