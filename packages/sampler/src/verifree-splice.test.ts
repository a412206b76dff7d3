import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, charTokenizer } from './testing/index.js';
import { buildVerifreeStringSplice, scoreVerifreeStringSplice } from './verifree-splice.js';

const tokenizer = charTokenizer();

describe('buildVerifreeStringSplice', () => {
  it('cuts before the > of the first <answer and prices >y</answer> (methods.md §1 worked example)', () => {
    const out = buildVerifreeStringSplice({
      tokenizer,
      tags: DEFAULT_TAGS,
      responseText: '7 sixes: 42.</think>\n<answer>41</answer>',
      answer: '42',
    });
    expect(tokenizer.decode(out.reasoningIds)).toBe('7 sixes: 42.</think>\n<answer');
    expect(tokenizer.decode(out.answerIds)).toBe('>42</answer>');
    expect(out.found).toBe(true);
    const missing = buildVerifreeStringSplice({
      tokenizer,
      tags: DEFAULT_TAGS,
      responseText: 'abc',
      answer: '4',
    });
    expect(tokenizer.decode(missing.reasoningIds)).toBe('abc\n<answer');
    expect(missing.found).toBe(false);
    expect(() =>
      buildVerifreeStringSplice({ tokenizer, tags: DEFAULT_TAGS, responseText: 'x', answer: '' }),
    ).toThrow(/buildVerifreeStringSplice: answer/);
  });

  it('scoreVerifreeStringSplice scores the spliced ids in one call against the oracle', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, seed: 9 });
    const contexts = [
      buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'q?', answer: '42' }),
    ];
    const rollouts = [
      { exampleIndex: 0, text: 'ok</think>\n<answer>41</answer>' },
      { exampleIndex: 0, text: 'no tags' },
    ];
    const before = tf.memory().numTensors;
    const out = scoreVerifreeStringSplice(policy, {
      rollouts,
      contexts,
      answers: ['42'],
      tokenizer,
      tags: DEFAULT_TAGS,
    });
    expect(policy.scoreCalls).toBe(1);
    expect(out.found).toEqual([true, false]);
    const seq0 = policy.scoreRequests[0]?.sequences[0] ?? [];
    expect(tokenizer.decode(seq0)).toBe('Question: q?\n<think>ok</think>\n<answer>42</answer>');
    const P = contexts[0]?.priorPrefix.length ?? 0;
    const reasoning = 'ok</think>\n<answer'.length;
    const a = out.answer.logProbs.arraySync();
    for (let k = 0; k < '>42</answer>'.length; k++) {
      expect(a[0]?.[k]).toBeCloseTo(policy.referenceLogProb(seq0, P + reasoning + k), 4);
    }
    const t = out.trace.logProbs.arraySync();
    for (let k = 0; k < reasoning; k++) {
      expect(t[0]?.[k]).toBeCloseTo(policy.referenceLogProb(seq0, P + k), 4);
    }
    tf.dispose([out.trace.logProbs, out.trace.mask, out.answer.logProbs, out.answer.mask]);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
