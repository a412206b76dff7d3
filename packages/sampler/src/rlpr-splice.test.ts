import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { scoreResponses } from './responses.js';
import {
  buildRlprSpliceRequest,
  buildRlprStringSplice,
  buildRlprStringSpliceRequest,
  scoreRlprBaseline,
  scoreRlprSplice,
  scoreRlprStringSplice,
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

describe('RLPR string splice scoring (rlpr.splice = string)', () => {
  // Pieces that merge across the answer boundaries: ' 4' (leading space + first digit), '2 ' and
  // 'is ' (last character + the space RLPR inserts before the closing tag).
  const merging = greedyTokenizer(
    [...new Set(TEST_ALPHABET), '<think>', '</think>', '<answer>', '</answer>', ' 4', '2 ', 'is '],
    { eosToken: '<eos>' },
  );
  const ctxs = [
    buildContexts({
      tokenizer: merging,
      tags: DEFAULT_TAGS,
      question: 'What is 7*6?',
      answer: '42',
    }),
    buildContexts({
      tokenizer: merging,
      tags: DEFAULT_TAGS,
      question: 'Capital?',
      answer: 'Paris',
    }),
  ];
  const rollouts = [
    { exampleIndex: 0, text: '7 sixes</think>\n<answer> 41</answer>' },
    { exampleIndex: 1, text: 'France</think>\nParis' },
    { exampleIndex: 1, responseIds: merging.encode('France, so') },
    { exampleIndex: 0, text: 'a</think>b</think><answer>40</answer>' },
  ];

  it('re-encodes each response with y spliced in and selects the overlapping tokens, boundary merges included', () => {
    const out = buildRlprStringSpliceRequest({
      rollouts,
      contexts: ctxs,
      tokenizer: merging,
      tags: DEFAULT_TAGS,
    });
    expect(out.splice).toEqual([
      'own-answer-open',
      'after-think-close',
      'appended',
      'own-answer-open',
    ]);
    const texts = [
      'Question: What is 7*6?\n<think>7 sixes</think>\n<answer> 42 </answer>',
      'Question: Capital?\n<think>France</think>\n<answer>Paris </answer>',
      'Question: Capital?\n<think>France, so</think>\n<answer>Paris </answer>',
      'Question: What is 7*6?\n<think>a</think>b</think><answer>42 </answer>',
    ];
    // Scored tokens: ' 4' + '2 ' (the leading space and the inserted space ride along);
    // 'P' 'a' 'r' + 'is ' (twice); '4' + '2 '.
    const scoredText = [' 42 ', 'Paris ', 'Paris ', '42 '];
    out.request.sequences.forEach((seq, b) => {
      expect(seq).toEqual([...merging.encode(texts[b] as string), merging.eosId]);
      const span = out.request.spans.answer[b] as { start: number; length: number };
      const indices = out.answerTokenIndices[b] as number[];
      expect(indices).toEqual(Array.from({ length: span.length }, (_, k) => span.start + k));
      expect(merging.decode(seq.slice(span.start, span.start + span.length))).toBe(scoredText[b]);
      // Exactly the tokens whose offsets overlap y.
      const text = texts[b] as string;
      const end = text.lastIndexOf(' </answer>');
      const y = b === 0 || b === 3 ? '42' : 'Paris';
      const { offsets } = merging.encodeWithOffsets(text);
      expect(indices).toEqual(
        selectAnswerTokensByOffsets({
          offsets,
          answerCharStart: end - y.length,
          answerCharEnd: end,
        }),
      );
    });
    // The id splice scores enc(y) exactly; the string splice scores what the offsets select.
    const byIds = buildRlprSpliceRequest({
      rollouts: rollouts.map((r) => ({
        exampleIndex: r.exampleIndex,
        responseIds: r.responseIds ?? merging.encode(r.text ?? ''),
      })),
      contexts: ctxs,
    });
    expect(byIds.request.spans.answer.map((s) => s.length)).toEqual([2, 5, 5, 2]);
    expect(out.request.spans.answer.map((s) => s.length)).toEqual([2, 4, 4, 2]);
  });

  it('explicit answers override decode(contexts[i].answer); over-long rows score the baseline', () => {
    const one = [{ exampleIndex: 0, text: 'x</think>\n<answer>1</answer>' }];
    const out = buildRlprStringSpliceRequest({
      rollouts: one,
      contexts: ctxs,
      answers: ['6*7', 'Paris'],
      tokenizer: merging,
      tags: DEFAULT_TAGS,
    });
    const seq = out.request.sequences[0] as number[];
    const span = out.request.spans.answer[0] as { start: number; length: number };
    expect(merging.decode(seq.slice(span.start, span.start + span.length))).toBe('6*7');
    const tight = buildRlprStringSpliceRequest({
      rollouts: one,
      contexts: ctxs,
      tokenizer: merging,
      tags: DEFAULT_TAGS,
      maxContext: 20,
    });
    expect(tight.splice).toEqual(['over-long']);
    const ctx = ctxs[0] as ExampleContexts;
    expect(tight.request.sequences[0]).toEqual([
      ...ctx.baselinePrefix,
      ...ctx.answer,
      ...ctx.answerClose,
    ]);
    expect(tight.request.spans.answer[0]).toEqual({
      start: ctx.baselinePrefix.length,
      length: ctx.answer.length,
    });
  });

  it('scoreRlprStringSplice reads log π of exactly the selected tokens, one call, no leaks', () => {
    const policy = new ScriptedPolicy({ vocabSize: merging.vocabSize, seed: 3 });
    const before = tf.memory().numTensors;
    const scored = scoreRlprStringSplice(policy, {
      rollouts,
      contexts: ctxs,
      tokenizer: merging,
      tags: DEFAULT_TAGS,
      temperature: 0.7,
    });
    expect(policy.scoreCalls).toBe(1);
    expect(scored.logProbs.shape).toEqual([4, 4]);
    const { request } = buildRlprStringSpliceRequest({
      rollouts,
      contexts: ctxs,
      tokenizer: merging,
      tags: DEFAULT_TAGS,
    });
    const lp = scored.logProbs.arraySync();
    const mask = scored.mask.arraySync();
    request.sequences.forEach((seq, b) => {
      const indices = scored.answerTokenIndices[b] as number[];
      for (let k = 0; k < 4; k++) {
        const at = indices[k];
        expect(mask[b]?.[k]).toBe(at === undefined ? 0 : 1);
        expect(lp[b]?.[k]).toBeCloseTo(
          at === undefined ? 0 : policy.referenceLogProb(seq, at, 0.7),
          4,
        );
      }
    });
    tf.dispose([scored.logProbs, scored.mask]);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it('rejects a tokenizer without offsets, missing text, empty answers and non-monotone offsets', () => {
    const { encodeWithOffsets: _drop, ...noOffsets } = merging;
    void _drop;
    const base = { contexts: ctxs, tags: DEFAULT_TAGS };
    expect(() => buildRlprStringSpliceRequest({ ...base, rollouts, tokenizer: noOffsets })).toThrow(
      /buildRlprStringSpliceRequest: tokenizer must implement encodeWithOffsets/,
    );
    expect(() =>
      buildRlprStringSpliceRequest({
        ...base,
        rollouts: [{ exampleIndex: 0 }],
        tokenizer: merging,
      }),
    ).toThrow(/rollouts\[0\] needs text or responseIds/);
    expect(() =>
      buildRlprStringSpliceRequest({ ...base, rollouts, answers: ['', 'x'], tokenizer: merging }),
    ).toThrow(/answers\[0\] \(for rollouts\[0\]\) must be a non-empty string/);
    const scrambled = {
      ...merging,
      encodeWithOffsets: (text: string) => {
        const out = merging.encodeWithOffsets(text);
        // Every token claims the whole text: the selection is every token, including position 0.
        return { ids: out.ids, offsets: out.offsets.map((): [number, number] => [0, text.length]) };
      },
    };
    expect(() => buildRlprStringSpliceRequest({ ...base, rollouts, tokenizer: scrambled })).toThrow(
      /not a non-empty contiguous run after position 0/,
    );
  });
});

describe('RLPR id splice on a vocabulary whose answer tag merges with the answer', () => {
  // '>-' merges the tag's last character with a minus sign, as Qwen3's BPE does.
  const bpe = greedyTokenizer([
    ...new Set(TEST_ALPHABET),
    '</think>',
    '<answer',
    '>-',
    '</answer>',
  ]);
  const ctx = buildContexts({ tokenizer: bpe, tags: DEFAULT_TAGS, question: 'q', answer: '-7' });

  it('re-splits the merged token: sampled ids before it, then enc of the rest of the tag', () => {
    const ids = bpe.encode('so</think>\n<answer>-8</answer>');
    expect(ids.map((id) => bpe.decode([id]))).toContain('>-');
    const { request, splice } = buildRlprSpliceRequest({
      rollouts: [{ exampleIndex: 0, responseIds: ids }],
      contexts: [ctx],
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
    });
    expect(splice).toEqual(['own-answer-open-split']);
    const seq = request.sequences[0] as number[];
    const kept = ids.indexOf(bpe.id('>-'));
    expect(seq).toEqual([
      ...ctx.priorPrefix,
      ...ids.slice(0, kept),
      bpe.id('>'),
      ...ctx.answer,
      ...ctx.answerClose,
    ]);
    expect(request.spans.answer[0]).toEqual({
      start: ctx.priorPrefix.length + kept + 1,
      length: ctx.answer.length,
    });
    // Without tokenizer and tags there is nothing to re-split with.
    const plain = buildRlprSpliceRequest({
      rollouts: [{ exampleIndex: 0, responseIds: ids }],
      contexts: [ctx],
    });
    expect(plain.splice).toEqual(['after-think-close']);
  });

  it('keeps the after-think-close fallback when the response has no answer tag', () => {
    const noTag = bpe.encode('so</think>\n-8');
    const out = buildRlprSpliceRequest({
      rollouts: [{ exampleIndex: 0, responseIds: noTag }],
      contexts: [ctx],
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
    });
    expect(out.splice).toEqual(['after-think-close']);
  });
});
