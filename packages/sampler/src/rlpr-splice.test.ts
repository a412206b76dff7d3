import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import {
  buildRlprSpliceRequest,
  buildRlprStringSplice,
  checkResponseFormat,
  findOwnAnswerOpen,
  sampleResponses,
  scoreResponses,
  scoreRlprBaseline,
  scoreRlprSplice,
  selectAnswerTokensByOffsets,
} from './full.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, charTokenizer, greedyTokenizer } from './testing/index.js';

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

describe('RLPR scoring passes', () => {
  const responses = [
    { exampleIndex: 0, responseIds: enc('7 sixes: 42.</think>\n<answer>41</answer>') },
    { exampleIndex: 1, responseIds: enc('France</think>\nParis') }, // no own <answer>
    { exampleIndex: 1, responseIds: enc('France, so') }, // no </think>
    { exampleIndex: 0, responseIds: enc('x</think><answer> 4') }, // own tag, no newline
  ];

  it('buildRlprSpliceRequest splices enc(y) after the model’s own answer tag, or flags the row', () => {
    const { request, splice } = buildRlprSpliceRequest({ rollouts: responses, contexts });
    expect(splice).toEqual(['own-answer-open', 'after-think-close', 'appended', 'own-answer-open']);
    const text = request.sequences.map((s) => tokenizer.decode(s));
    expect(text).toEqual([
      'Question: What is 7*6?\n<think>7 sixes: 42.</think>\n<answer>42</answer>',
      'Question: Capital?\n<think>France</think>\n<answer>Paris</answer>',
      'Question: Capital?\n<think>France, so</think>\n<answer>Paris</answer>',
      'Question: What is 7*6?\n<think>x</think><answer>42</answer>',
    ]);
    request.spans.answer.forEach((span, b) => {
      const seq = request.sequences[b] ?? [];
      const ctx = contexts[responses[b]?.exampleIndex ?? 0] as ExampleContexts;
      expect(seq.slice(span.start, span.start + span.length)).toEqual(ctx.answer);
      expect(seq.slice(span.start + span.length)).toEqual(ctx.answerClose);
    });
    const tight = buildRlprSpliceRequest({ rollouts: responses, contexts, maxContext: 40 });
    expect(tight.splice[0]).toBe('over-long');
    expect(tokenizer.decode(tight.request.sequences[0] ?? [])).toBe(
      'Question: What is 7*6?\n<answer>42</answer>',
    );
  });

  it('scoreResponses, scoreRlprSplice and scoreRlprBaseline match the oracle, one call each, no leaks', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, seed: 6 });
    const before = tf.memory().numTensors;
    const response = scoreResponses(policy, { rollouts: responses, contexts, temperature: 0.8 });
    const spliced = scoreRlprSplice(policy, { rollouts: responses, contexts });
    const baseline = scoreRlprBaseline(policy, { contexts });
    expect(policy.scoreCalls).toBe(3);
    const T = Math.max(...responses.map((r) => r.responseIds.length));
    expect(response.logProbs.shape).toEqual([4, T]);
    expect(spliced.logProbs.shape).toEqual([4, 5]);
    expect(baseline.logProbs.shape).toEqual([2, 5]);
    const lp = response.logProbs.arraySync();
    const mask = response.mask.arraySync();
    responses.forEach((r, b) => {
      const ctx = contexts[r.exampleIndex] as ExampleContexts;
      const seq = [...ctx.priorPrefix, ...r.responseIds];
      for (let t = 0; t < T; t++) {
        const real = t < r.responseIds.length;
        expect(mask[b]?.[t]).toBe(real ? 1 : 0);
        const want = real ? policy.referenceLogProb(seq, ctx.priorPrefix.length + t, 0.8) : 0;
        expect(lp[b]?.[t]).toBeCloseTo(want, 4);
      }
    });
    const { request } = buildRlprSpliceRequest({ rollouts: responses, contexts });
    const sp = spliced.logProbs.arraySync();
    request.sequences.forEach((seq, b) => {
      const span = request.spans.answer[b] ?? { start: 0, length: 0 };
      for (let k = 0; k < span.length; k++) {
        expect(sp[b]?.[k]).toBeCloseTo(policy.referenceLogProb(seq, span.start + k), 4);
      }
    });
    const bl = baseline.logProbs.arraySync();
    contexts.forEach((ctx, n) => {
      const seq = [...ctx.baselinePrefix, ...ctx.answer, ...ctx.answerClose];
      ctx.answer.forEach((_, k) => {
        expect(bl[n]?.[k]).toBeCloseTo(
          policy.referenceLogProb(seq, ctx.baselinePrefix.length + k),
          4,
        );
      });
    });
    expect(baseline.mask.arraySync()).toEqual([
      [1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1],
    ]);
    tf.dispose([response, spliced, baseline].flatMap((s) => [s.logProbs, s.mask]));
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it('rejects bad arguments naming the function and argument', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize });
    expect(() => scoreResponses(policy, { rollouts: [], contexts })).toThrow(
      /scoreResponses: rollouts/,
    );
    expect(() => scoreRlprBaseline(policy, { contexts: [] })).toThrow(
      /scoreRlprBaseline: contexts/,
    );
    expect(() =>
      scoreRlprSplice(policy, { rollouts: [{ exampleIndex: 9, responseIds: [1] }], contexts }),
    ).toThrow(/buildRlprSpliceRequest: rollouts\[0\].exampleIndex 9/);
    policy.dispose();
  });
});

describe('selectAnswerTokensByOffsets', () => {
  it('selects every token overlapping the answer characters, boundary merges included', () => {
    // text: '<answer> 42.</answer>' with tokens '<answer>' ' 4' '2.' '</answer>' '' (EOS)
    const offsets: [number, number][] = [
      [0, 8],
      [8, 10],
      [10, 12],
      [12, 21],
      [21, 21],
    ];
    expect(selectAnswerTokensByOffsets({ offsets, answerCharStart: 9, answerCharEnd: 11 })).toEqual(
      [1, 2],
    );
    expect(selectAnswerTokensByOffsets({ offsets, answerCharStart: 8, answerCharEnd: 10 })).toEqual(
      [1],
    );
    expect(
      selectAnswerTokensByOffsets({ offsets, answerCharStart: 11, answerCharEnd: 21 }),
    ).toEqual([2, 3]);
    expect(() =>
      selectAnswerTokensByOffsets({ offsets, answerCharStart: 5, answerCharEnd: 5 }),
    ).toThrow(/selectAnswerTokensByOffsets: answerCharEnd/);
  });

  it('property: matches a per-character oracle on random segmentations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        (widths, a, b) => {
          const offsets: [number, number][] = [];
          let pos = 0;
          for (const w of widths) {
            offsets.push([pos, pos + w]);
            pos += w;
          }
          const start = a % pos;
          const end = start + 1 + (b % (pos - start));
          const oracle = offsets
            .map(([s, e], i) => {
              for (let c = s; c < e; c++) if (c >= start && c < end) return i;
              return -1;
            })
            .filter((i) => i >= 0);
          expect(
            selectAnswerTokensByOffsets({ offsets, answerCharStart: start, answerCharEnd: end }),
          ).toEqual(oracle);
        },
      ),
      { seed: 5, numRuns: 200 },
    );
  });

  it('buildRlprStringSplice re-encodes the RLPR string and selects the answer tokens', () => {
    const chars = charTokenizer(TEST_ALPHABET, { eosToken: '<eos>' });
    const out = buildRlprStringSplice({
      tokenizer: chars,
      tags: DEFAULT_TAGS,
      promptText: 'Question: q\n<think>',
      responseText: 'a</think>b</think>\n<answer> 41</answer>',
      answer: '42',
    });
    if (out === undefined) throw new Error('expected a splice');
    const text = 'Question: q\n<think>a</think>b</think>\n<answer> 42 </answer>';
    expect(out.ids).toEqual([...chars.encode(text), chars.eosId]);
    const at = text.indexOf(' 42 ') + 1;
    expect(out.answerTokenIndices).toEqual([at, at + 1]);
    expect(
      buildRlprStringSplice({
        tokenizer: chars,
        tags: DEFAULT_TAGS,
        promptText: '',
        responseText: 'x',
        answer: '4',
      }),
    ).toBeUndefined();
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
