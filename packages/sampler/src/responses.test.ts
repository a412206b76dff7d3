import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { checkResponseFormat, findOwnAnswerOpen, sampleResponses } from './responses.js';
import { buildRlprSpliceRequest } from './rlpr-splice.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, greedyTokenizer } from './testing/index.js';

const tokenizer = greedyTokenizer(
  [...new Set(TEST_ALPHABET), '<think>', '</think>', '<answer>', '</answer>'],
  { eosToken: '<eos>' },
);
const enc = (text: string): number[] => tokenizer.encode(text);
const contexts: ExampleContexts[] = [
  buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'What is 7*6?', answer: '42' }),
  buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'Capital?', answer: 'Paris' }),
];

describe('checkResponseFormat', () => {
  const cases: [string, boolean, string | undefined][] = [
    ['7 sixes</think>\n<answer>42</answer>', true, '42'],
    ['7 sixes</think><answer> 42 </answer>', true, ' 42 '],
    ['7 sixes</think>\n<answer>  </answer>', false, '  '],
    ['<think>x</think>\n<answer>42</answer>', false, '42'],
    ['x</think>y</think>\n<answer>42</answer>', false, '42'],
    ['x<answer>1</answer></think>\n<answer>42</answer>', false, '42'],
    ['x</think>\n<answer>42', false, undefined],
    ['no tags at all', false, undefined],
  ];
  it.each(cases)('%j → valid %s, answer %j', (text, valid, answer) => {
    const out = checkResponseFormat(text, DEFAULT_TAGS);
    expect(out.formatValid).toBe(valid);
    expect(out.extractedAnswer).toBe(answer);
  });
});

describe('sampleResponses', () => {
  it('one generate call from the prior prefix, stops on </answer>, greedy sends temperature 0', async () => {
    const scripts = [
      enc('7 sixes: 42.</think>\n<answer>41</answer>junk'),
      enc('hmm</think>\n<answer>'),
      enc('France</think>Paris<eos>'),
      enc('ok</think>\n<answer>Paris</answer>'),
    ];
    const policy = new ScriptedPolicy({
      vocabSize: tokenizer.vocabSize,
      script: (_p, { row }) => scripts[row] ?? [],
      fillId: enc('.')[0] as number,
    });
    const rollouts = await sampleResponses(policy, {
      contexts,
      groupSize: 2,
      temperature: 1,
      maxNewTokens: 30,
      seed: 3,
      tokenizer,
      tags: DEFAULT_TAGS,
      greedy: true,
    });
    expect(policy.generateCalls).toBe(1);
    const request = policy.generateRequests[0];
    expect(request?.temperature).toBe(0);
    expect(request?.prompts).toEqual([
      contexts[0]?.priorPrefix,
      contexts[0]?.priorPrefix,
      contexts[1]?.priorPrefix,
      contexts[1]?.priorPrefix,
    ]);
    expect(request?.stopSequences).toEqual([enc('</answer>')]);
    expect(rollouts[0]?.text).toBe('7 sixes: 42.</think>\n<answer>41</answer>');
    expect(rollouts.map((r) => r.finishReason)).toEqual(['stop', 'length', 'eos', 'stop']);
    expect(rollouts.map((r) => r.truncated)).toEqual([false, true, false, false]);
    expect(rollouts.map((r) => r.formatValid)).toEqual([true, false, false, true]);
    expect(rollouts.map((r) => r.extractedAnswer)).toEqual(['41', undefined, undefined, 'Paris']);
    // answerOpenEnd: just after the model's own <answer> id.
    const first = rollouts[0]?.responseIds ?? [];
    expect(rollouts[0]?.answerOpenEnd).toBe(first.indexOf(tokenizer.id('<answer>')) + 1);
    expect(rollouts[1]?.answerOpenEnd).toBe(enc('hmm</think>\n<answer>').length);
    expect(rollouts[2]?.answerOpenEnd).toBeUndefined();
    policy.dispose();
  });
});

describe('findOwnAnswerOpen', () => {
  const tok = greedyTokenizer([...new Set(TEST_ALPHABET), '</think>', '<answer>', '</answer>']);
  const ctx = buildContexts({ tokenizer: tok, tags: DEFAULT_TAGS, question: 'q', answer: '7' });
  it('finds the tag on ids, or on text at a token boundary when spelled non-canonically', () => {
    const canonical = tok.encode('ab</think>\n<answer>7</answer>');
    expect(findOwnAnswerOpen(canonical, ctx)).toEqual({ thinkCloseEnd: 3, answerOpenEnd: 5 });
    // '<answer>' written character by character: not found on ids, found on text.
    const charwise = [
      ...tok.encode('ab</think>\n'),
      ...[...'<answer>'].map((c) => tok.id(c)),
      tok.id('7'),
    ];
    expect(findOwnAnswerOpen(charwise, ctx)).toEqual({ thinkCloseEnd: 3 });
    expect(findOwnAnswerOpen(charwise, ctx, { tokenizer: tok, tags: DEFAULT_TAGS })).toEqual({
      thinkCloseEnd: 3,
      answerOpenEnd: 12,
    });
    const { splice, request } = buildRlprSpliceRequest({
      rollouts: [{ exampleIndex: 0, responseIds: charwise }],
      contexts: [ctx],
      tokenizer: tok,
      tags: DEFAULT_TAGS,
    });
    expect(splice).toEqual(['own-answer-open']);
    expect(
      request.sequences[0]?.slice(ctx.priorPrefix.length, ctx.priorPrefix.length + 12),
    ).toEqual(charwise.slice(0, 12));
    // sampleResponses' answerOpenEnd (text fallback included) is honoured without a tokenizer.
    const viaField = buildRlprSpliceRequest({
      rollouts: [{ exampleIndex: 0, responseIds: charwise, answerOpenEnd: 12 }],
      contexts: [ctx],
    });
    expect(viaField.splice).toEqual(['own-answer-open']);
    expect(viaField.request.sequences[0]).toEqual(request.sequences[0]);
    expect(() =>
      buildRlprSpliceRequest({
        rollouts: [{ exampleIndex: 0, responseIds: charwise, answerOpenEnd: 99 }],
        contexts: [ctx],
      }),
    ).toThrow(/buildRlprSpliceRequest: rollouts\[0\].answerOpenEnd 99/);
    // A tag merged with the next character into one token has no boundary to splice at.
    const merged = greedyTokenizer([
      ...new Set(TEST_ALPHABET),
      '</think>',
      '<answer>7',
      '<answer>',
    ]);
    const ids = merged.encode('ab</think>\n<answer>7</answer>');
    const mctx = buildContexts({
      tokenizer: merged,
      tags: DEFAULT_TAGS,
      question: 'q',
      answer: '7',
    });
    expect(findOwnAnswerOpen(ids, mctx, { tokenizer: merged, tags: DEFAULT_TAGS })).toEqual({
      thinkCloseEnd: 3,
    });
  });
});
