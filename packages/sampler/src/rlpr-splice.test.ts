import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { scoreResponses } from './responses.js';
import {
  buildRlprSpliceRequest,
  buildRlprStringSplice,
  scoreRlprBaseline,
  scoreRlprSplice,
  selectAnswerTokensByOffsets,
} from './rlpr-splice.js';
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
