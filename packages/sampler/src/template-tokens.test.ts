import { describe, expect, it } from 'vitest';
import { buildContexts, stopSequencesOf } from './contexts.js';
import { isWellFormedTrace, sampleTraces } from './hybrid.js';
import { findOwnAnswerOpen, sampleResponses } from './responses.js';
import { STOP_TAG_PROBES, auditTemplateTokens, stopSequenceVariants } from './template-tokens.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, charTokenizer, greedyTokenizer } from './testing/index.js';

/**
 * A BPE-like vocabulary in which the tags are ordinary text that merges with its neighbours, as
 * Qwen3's does: `.</` (a period joins the closing tag), `>\n` (the tag's `>` joins the newline
 * after it) and `>-` (the answer tag's `>` joins a minus sign).
 */
const bpeLike = greedyTokenizer(
  [...new Set(TEST_ALPHABET), '</', '.</', 'think', 'answer', '>\n', '>-'],
  { eosToken: '<eos>' },
);
const ids = (...pieces: string[]): number[] => pieces.map((p) => bpeLike.id(p));

describe('stopSequenceVariants', () => {
  it('is [enc(tag)] for a character tokenizer and for atomic tags', () => {
    const chars = charTokenizer();
    expect(stopSequenceVariants(chars, '</answer>')).toEqual([chars.encode('</answer>')]);
    const atomic = greedyTokenizer([...new Set(TEST_ALPHABET), '</think>']);
    expect(stopSequenceVariants(atomic, '</think>')).toEqual([[atomic.id('</think>')]]);
  });

  it('adds the suffix of enc(c + tag) that covers the tag when c merges into it', () => {
    const variants = stopSequenceVariants(bpeLike, '</answer>');
    expect(variants).toEqual([ids('</', 'answer', '>'), ids('.</', 'answer', '>')]);
    // Every variant decodes to text ending with the whole tag; the canonical one comes first.
    for (const v of variants) expect(bpeLike.decode(v).endsWith('</answer>')).toBe(true);
    // Cached per (tokenizer, tag) for the default probes: the same frozen array.
    expect(stopSequenceVariants(bpeLike, '</answer>')).toBe(variants);
    expect(stopSequenceVariants(bpeLike, '</answer>', ['x'])).toEqual([variants[0]]);
    expect(STOP_TAG_PROBES).toContain('.');
    expect(() => stopSequenceVariants(bpeLike, '')).toThrow(/stopSequenceVariants: tag/);
  });
});

describe('auditTemplateTokens', () => {
  it('reports nothing to fix for a character tokenizer', () => {
    const report = auditTemplateTokens({ tokenizer: charTokenizer(), tags: DEFAULT_TAGS });
    expect(report.hazards).toEqual([]);
    expect(report.thinkOpen.atomic).toBe(false);
    expect(report.stops.answerClose).toHaveLength(1);
  });

  it('names the merges across tag boundaries that id splicing cannot repair', () => {
    const report = auditTemplateTokens({ tokenizer: bpeLike, tags: DEFAULT_TAGS });
    expect(report.thinkClose.ids).toEqual(ids('</', 'think', '>'));
    expect(report.stops.thinkClose).toEqual([ids('</', 'think', '>'), ids('.</', 'think', '>')]);
    expect(report.hazards).toHaveLength(2);
    expect(report.hazards[0]).toMatch(/^thinkClose "<\/think>" merges with the separator after it/);
    expect(report.hazards[0]).toContain('">\\n"');
    expect(report.hazards[1]).toMatch(
      /^answerOpen "<answer>" merges with an answer starting with "-"/,
    );
    const atomic = greedyTokenizer([...new Set(TEST_ALPHABET), '</think>', '<answer>', '>-']);
    const clean = auditTemplateTokens({ tokenizer: atomic, tags: DEFAULT_TAGS });
    expect(clean.thinkClose.atomic).toBe(true);
    expect(clean.hazards).toEqual([]);
  });
});

describe('sampling stops on every variant of a merged stop tag', () => {
  const ctx = buildContexts({ tokenizer: bpeLike, tags: DEFAULT_TAGS, question: 'q', answer: '7' });

  it('buildContexts carries the variants only when there are some', () => {
    expect(stopSequencesOf(ctx, 'answerClose')).toEqual(stopSequenceVariants(bpeLike, '</answer>'));
    expect(ctx.thinkCloseStops).toHaveLength(2);
    const plain = buildContexts({
      tokenizer: charTokenizer(),
      tags: DEFAULT_TAGS,
      question: 'q',
      answer: '7',
    });
    expect('thinkCloseStops' in plain || 'answerCloseStops' in plain).toBe(false);
    expect(stopSequencesOf(plain, 'thinkClose')).toEqual([plain.thinkClose]);
  });

  it('sampleTraces stops on `.</think>` and judges the trace on its text', async () => {
    const trace = [...bpeLike.encode('so 7'), ...ids('.</', 'think', '>')];
    const policy = new ScriptedPolicy({
      vocabSize: bpeLike.vocabSize,
      script: () => [...trace, ...bpeLike.encode('never reached')],
    });
    const [row] = await sampleTraces(policy, {
      contexts: [ctx],
      groupSize: 1,
      sampledFromPrior: [true],
      temperature: 1,
      maxTraceTokens: 40,
      seed: 1,
      tokenizer: bpeLike,
      tags: DEFAULT_TAGS,
    });
    expect(policy.generateRequests[0]?.stopSequences).toEqual(ctx.thinkCloseStops);
    expect(row?.traceIds).toEqual(trace);
    expect(row?.finishReason).toBe('stop');
    expect(row?.wellFormed).toBe(true);
    const base = { finishReason: 'stop' as const, thinkClose: ctx.thinkClose, tokenizer: bpeLike };
    const stops = ctx.thinkCloseStops ?? [];
    // Without the variants, the same ids are not a stop.
    expect(isWellFormedTrace({ ...base, traceIds: trace, tags: DEFAULT_TAGS })).toBe(false);
    // A body of only the merged period is still a body; an empty one is not.
    expect(
      isWellFormedTrace({
        ...base,
        traceIds: ids('.</', 'think', '>'),
        thinkCloseStops: stops,
        tags: DEFAULT_TAGS,
      }),
    ).toBe(true);
    expect(
      isWellFormedTrace({
        ...base,
        traceIds: [...bpeLike.encode('<answer>'), ...ids('.</', 'think', '>')],
        thinkCloseStops: stops,
        tags: DEFAULT_TAGS,
      }),
    ).toBe(false);
    policy.dispose();
  });

  it('sampleResponses stops on `.</answer>`, and the splice point is found on text', async () => {
    const response = [
      ...bpeLike.encode('so 7'),
      ...ids('.</', 'think', '>\n'),
      ...bpeLike.encode('<answer>7'),
      ...ids('.</', 'answer', '>'),
    ];
    const policy = new ScriptedPolicy({
      vocabSize: bpeLike.vocabSize,
      script: () => [...response, ...bpeLike.encode('tail')],
    });
    const [row] = await sampleResponses(policy, {
      contexts: [ctx],
      groupSize: 1,
      temperature: 1,
      maxNewTokens: 60,
      seed: 2,
      tokenizer: bpeLike,
      tags: DEFAULT_TAGS,
    });
    expect(row?.responseIds).toEqual(response);
    expect(row?.finishReason).toBe('stop');
    expect(row?.extractedAnswer).toBe('7.');
    // `</think>` ends inside '>\n' (no boundary); '<answer>' ends on one.
    const found = findOwnAnswerOpen(response, ctx, { tokenizer: bpeLike, tags: DEFAULT_TAGS });
    expect(found.thinkCloseEnd).toBeUndefined();
    expect(bpeLike.decode(response.slice(0, found.answerOpenEnd))).toBe('so 7.</think>\n<answer>');
    // A '.</think>' followed by a plain separator: its end is a boundary found on text.
    const plain = [
      ...bpeLike.encode('x'),
      ...ids('.</', 'think'),
      bpeLike.id('>'),
      bpeLike.id('7'),
    ];
    expect(findOwnAnswerOpen(plain, ctx, { tokenizer: bpeLike, tags: DEFAULT_TAGS })).toEqual({
      thinkCloseEnd: 4,
    });
    expect(findOwnAnswerOpen(plain, ctx)).toEqual({});
    policy.dispose();
  });
});
