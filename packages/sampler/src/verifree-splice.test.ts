import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, charTokenizer, greedyTokenizer } from './testing/index.js';
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
    expect(out.cut).toBe('text');
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

  it('cuts on the sampled ids when the tag ids are there, where re-encoding would change them', () => {
    // `think` is a piece, so the encoder writes it as one id; the sampler drew `th` + `ink`.
    const bpe = greedyTokenizer([...new Set(TEST_ALPHABET), 'th', 'ink', 'think']);
    const sampledIds = [
      ...bpe.encode('I '),
      bpe.id('th'),
      bpe.id('ink'),
      ...[...'.</think>\n<answer>41</answer>'].map((c) => bpe.id(c)),
    ];
    const text = bpe.decode(sampledIds);
    expect(text).toBe('I think.</think>\n<answer>41</answer>');
    const reasoningLength = 'I '.length + 2 + '.</think>\n<answer'.length;
    const onIds = buildVerifreeStringSplice({
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
      responseIds: sampledIds,
      answer: '42',
    });
    expect(onIds.cut).toBe('ids');
    expect(onIds.found).toBe(true);
    expect(onIds.reasoningIds).toEqual(sampledIds.slice(0, reasoningLength));
    expect(bpe.decode(onIds.reasoningIds)).toBe('I think.</think>\n<answer');
    expect(bpe.decode(onIds.answerIds)).toBe('>42</answer>');
    // Re-encoding the same text merges `th` + `ink` (twice, in `</think>` too): other ids.
    const reEncoded = buildVerifreeStringSplice({
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
      responseText: text,
      answer: '42',
    });
    expect(reEncoded.cut).toBe('text');
    expect(bpe.decode(reEncoded.reasoningIds)).toBe(bpe.decode(onIds.reasoningIds));
    expect(reEncoded.reasoningIds).not.toEqual(onIds.reasoningIds);
    expect(reEncoded.reasoningIds.filter((id) => id === bpe.id('think'))).toHaveLength(2);
    // Text and ids together must agree; the answer span does not depend on the route taken.
    const both = buildVerifreeStringSplice({
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
      responseText: text,
      responseIds: sampledIds,
      answer: '42',
    });
    expect(both).toEqual(onIds);
    expect(reEncoded.answerIds).toEqual(onIds.answerIds);
    expect(() =>
      buildVerifreeStringSplice({
        tokenizer: bpe,
        tags: DEFAULT_TAGS,
        responseText: 'other',
        responseIds: sampledIds,
        answer: '42',
      }),
    ).toThrow(/buildVerifreeStringSplice: responseText must equal tokenizer.decode\(responseIds\)/);
    expect(() =>
      buildVerifreeStringSplice({ tokenizer: bpe, tags: DEFAULT_TAGS, answer: '4' }),
    ).toThrow(/buildVerifreeStringSplice: give responseText or responseIds/);
    // Without the tag the sampled ids are kept and only the fixed pieces are encoded.
    const noTag = [...bpe.encode('I '), bpe.id('th'), bpe.id('ink')];
    const missing = buildVerifreeStringSplice({
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
      responseIds: noTag,
      answer: '4',
    });
    expect(missing).toMatchObject({ found: false, cut: 'ids' });
    expect(missing.reasoningIds).toEqual([...noTag, ...bpe.encode('\n<answer')]);
  });

  it('with an atomic answer tag cuts after the tag id and prices y</answer>', () => {
    const atomic = greedyTokenizer([
      ...new Set(TEST_ALPHABET),
      '</think>',
      '<answer>',
      '</answer>',
    ]);
    const sampledIds = [
      ...atomic.encode('ok'),
      atomic.id('</think>'),
      atomic.id('\n'),
      atomic.id('<answer>'),
      ...atomic.encode('41'),
      atomic.id('</answer>'),
    ];
    const out = buildVerifreeStringSplice({
      tokenizer: atomic,
      tags: DEFAULT_TAGS,
      responseIds: sampledIds,
      answer: '42',
    });
    expect(out).toEqual({
      reasoningIds: sampledIds.slice(0, 5),
      answerIds: [atomic.id('4'), atomic.id('2'), atomic.id('</answer>')],
      found: true,
      cut: 'ids',
    });
    // The model spelled the tag in characters: the cut before `>` is a boundary of its ids, and
    // they are kept (re-encoding `...<answer>41` would give the atomic `<answer>` id).
    const spelled = [
      ...atomic.encode('ok'),
      atomic.id('</think>'),
      ...[...'\n<answer>41'].map((c) => atomic.id(c)),
      atomic.id('</answer>'),
    ];
    const onIds = buildVerifreeStringSplice({
      tokenizer: atomic,
      tags: DEFAULT_TAGS,
      responseIds: spelled,
      answer: '42',
    });
    expect(onIds.cut).toBe('ids');
    expect(onIds.reasoningIds).toEqual(spelled.slice(0, 3 + '\n<answer'.length));
    expect(atomic.decode(onIds.answerIds)).toBe('>42</answer>');
  });

  it("cuts at the text's first <answer, wherever the tag's canonical ids first occur", () => {
    const tok = greedyTokenizer([...new Set(TEST_ALPHABET), '<answer']);
    // The first `<answer` spelled in characters, a later one with the `<answer` piece.
    const ids = [
      ...[...'a<answer'].map((c) => tok.id(c)),
      ...tok.encode('b'),
      tok.id('<answer'),
      ...tok.encode('>1'),
    ];
    const out = buildVerifreeStringSplice({
      tokenizer: tok,
      tags: DEFAULT_TAGS,
      responseIds: ids,
      answer: '1',
    });
    expect(out.cut).toBe('ids');
    expect(out.reasoningIds).toEqual(ids.slice(0, 8));
    expect(tok.encode(tok.decode(out.reasoningIds))).toEqual([tok.id('a'), tok.id('<answer')]);
  });

  it('cuts on a token that starts before the tag, as long as it ends inside it', () => {
    // `\n<answer` and `\n<answer>` start on the separator, before the tag: still a boundary.
    const tok = greedyTokenizer([...new Set(TEST_ALPHABET), '\n<answer', '\n<answer>']);
    const head = [...'ok</think>'].map((c) => tok.id(c));
    const tail = [...'41</answer>'].map((c) => tok.id(c));
    const atCut = [...head, tok.id('\n<answer'), tok.id('>'), ...tail];
    const cutOnIds = buildVerifreeStringSplice({
      tokenizer: tok,
      tags: DEFAULT_TAGS,
      responseIds: atCut,
      answer: '42',
    });
    expect(cutOnIds).toEqual({
      reasoningIds: atCut.slice(0, head.length + 1),
      answerIds: tok.encode('>42</answer>'),
      found: true,
      cut: 'ids',
    });
    const atEnd = [...head, tok.id('\n<answer>'), ...tail];
    const atomicOnIds = buildVerifreeStringSplice({
      tokenizer: tok,
      tags: DEFAULT_TAGS,
      responseIds: atEnd,
      answer: '42',
    });
    expect(atomicOnIds).toEqual({
      reasoningIds: atEnd.slice(0, head.length + 1),
      answerIds: tok.encode('42</answer>'),
      found: true,
      cut: 'ids',
    });
  });

  it('re-encodes (the documented fallback) when a token merges the tag with what follows', () => {
    const tok = greedyTokenizer([...new Set(TEST_ALPHABET), 'r>4']);
    const ids = [
      ...[...'ok</think>\n<answe'].map((c) => tok.id(c)),
      tok.id('r>4'),
      ...[...'1</answer>'].map((c) => tok.id(c)),
    ];
    const out = buildVerifreeStringSplice({
      tokenizer: tok,
      tags: DEFAULT_TAGS,
      responseIds: ids,
      answer: '42',
    });
    expect(out.cut).toBe('text');
    expect(out.found).toBe(true);
    expect(tok.decode(out.reasoningIds)).toBe('ok</think>\n<answer');
    expect(out.answerIds).toEqual(tok.encode('>42</answer>'));
    expect(tok.decode(out.answerIds)).toBe('>42</answer>');
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

  it("scoreVerifreeStringSplice keeps rollouts' sampled ids verbatim in the scored sequence", () => {
    const bpe = greedyTokenizer([...new Set(TEST_ALPHABET), 'th', 'ink', 'think']);
    const policy = new ScriptedPolicy({ vocabSize: bpe.vocabSize, seed: 3 });
    const contexts = [
      buildContexts({ tokenizer: bpe, tags: DEFAULT_TAGS, question: 'q?', answer: '7' }),
    ];
    const sampled = [
      bpe.id('th'),
      bpe.id('ink'),
      ...[...'</think>\n<answer>6</answer>'].map((c) => bpe.id(c)),
    ];
    const text = bpe.decode(sampled);
    const before = tf.memory().numTensors;
    const out = scoreVerifreeStringSplice(policy, {
      rollouts: [
        { exampleIndex: 0, text, responseIds: sampled },
        { exampleIndex: 0, text },
      ],
      contexts,
      answers: ['7'],
      tokenizer: bpe,
      tags: DEFAULT_TAGS,
    });
    expect(out.cut).toEqual(['ids', 'text']);
    expect(out.found).toEqual([true, true]);
    const prefix = contexts[0]?.priorPrefix ?? [];
    const reasoning = sampled.slice(0, 2 + '</think>\n<answer'.length);
    const sequences = policy.scoreRequests[0]?.sequences ?? [];
    expect(sequences[0]).toEqual([...prefix, ...reasoning, ...bpe.encode('>7</answer>')]);
    expect(sequences[1]).not.toEqual(sequences[0]);
    expect(bpe.decode(sequences[1] ?? [])).toBe(bpe.decode(sequences[0] ?? []));
    tf.dispose([out.trace.logProbs, out.trace.mask, out.answer.logProbs, out.answer.mask]);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
