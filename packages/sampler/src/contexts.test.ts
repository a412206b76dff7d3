import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts, checkContextBudget } from './contexts.js';
import { DEFAULT_TAGS, THINKING_TAGS, renderTemplate } from './templates.js';
import { TEST_ALPHABET, charTokenizer, greedyTokenizer } from './testing/index.js';

const atomic = greedyTokenizer([
  ...new Set(TEST_ALPHABET),
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
  '<thinking>',
  '</thinking>',
]);

describe('buildContexts', () => {
  it('encodes each fixed piece separately and the pieces reassemble every template', () => {
    for (const tokenizer of [charTokenizer(), atomic]) {
      for (const tags of [DEFAULT_TAGS, THINKING_TAGS]) {
        const question = 'What is 7*6?';
        const answer = '42';
        const ctx = buildContexts({ tokenizer, tags, question, answer });
        const traceText = `7 sixes: 42.${tags.thinkClose}`;
        const z = tokenizer.encode(traceText);
        expect(tokenizer.decode(ctx.priorPrefix)).toBe(
          renderTemplate('prior-sample', { question, answer }, tags),
        );
        expect(
          tokenizer.decode([
            ...ctx.priorPrefix,
            ...z,
            ...ctx.answerOpen,
            ...ctx.answer,
            ...ctx.answerClose,
          ]),
        ).toBe(renderTemplate('prior-score', { question, answer, trace: traceText }, tags));
        expect(tokenizer.decode([...ctx.posteriorPrefix, ...z])).toBe(
          renderTemplate('posterior', { question, answer, trace: traceText }, tags),
        );
        expect(tokenizer.decode([...ctx.baselinePrefix, ...ctx.answer, ...ctx.answerClose])).toBe(
          renderTemplate('rlpr-baseline', { question, answer }, tags),
        );
        const empty = buildContexts({
          tokenizer,
          tags,
          question,
          answer,
          baselineContext: 'empty-think',
        });
        expect(
          tokenizer.decode([...empty.baselinePrefix, ...empty.answer, ...empty.answerClose]),
        ).toBe(renderTemplate('rlpr-baseline-empty-think', { question, answer }, tags));
        expect(tokenizer.decode(ctx.thinkClose)).toBe(tags.thinkClose);
        expect(tokenizer.decode(ctx.answerOpenTag)).toBe(tags.answerOpen);
      }
    }
    const ctx = buildContexts({
      tokenizer: atomic,
      tags: DEFAULT_TAGS,
      question: 'q',
      answer: 'a',
    });
    expect(ctx.thinkClose).toEqual([atomic.id('</think>')]);
    expect(ctx.answerOpen).toEqual([atomic.id('\n'), atomic.id('<answer>')]);
  });

  it('property: enc(a) ‖ enc(b) decodes to a + b for every piece pair', () => {
    const text = fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'ab 1<>/\n?') });
    fc.assert(
      fc.property(text, text, (question, answer) => {
        const ctx = buildContexts({ tokenizer: atomic, tags: DEFAULT_TAGS, question, answer });
        const pieces = [ctx.priorPrefix, ctx.answerOpen, ctx.answer, ctx.answerClose];
        const joined = atomic.decode(pieces.flat());
        expect(joined).toBe(pieces.map((p) => atomic.decode(p)).join(''));
        expect(joined).toBe(`Question: ${question}\n<think>\n<answer>${answer}</answer>`);
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  it('rejects bad arguments naming the function and argument', () => {
    const args = { tokenizer: atomic, tags: DEFAULT_TAGS, question: 'q', answer: 'a' };
    expect(() => buildContexts({ ...args, answer: '' })).toThrow(/buildContexts: answer/);
    expect(() => buildContexts({ ...args, question: 'é' })).toThrow(/greedyTokenizer.encode/);
    const broken = { ...atomic, encode: () => [] as number[] };
    expect(() => buildContexts({ ...args, tokenizer: broken })).toThrow(
      /buildContexts: .*priorPrefix/,
    );
    const outOfRange = { ...atomic, encode: () => [atomic.vocabSize] };
    expect(() => buildContexts({ ...args, tokenizer: outOfRange })).toThrow(/outside \[0, /);
  });
});

describe('checkContextBudget', () => {
  const ctx = buildContexts({
    tokenizer: atomic,
    tags: DEFAULT_TAGS,
    question: 'abc',
    answer: '42',
  });
  // priorPrefix = 'Question: abc\n' (14) + <think> (1) = 15; suffix = 2 + 2 + 1 = 5;
  // posteriorPrefix = 14 + <answer> 42 </answer> \n <think> = 14 + 1 + 2 + 1 + 1 + 1 = 20.
  it('accepts an example that just fits and reports the contexts that do not', () => {
    expect(ctx.priorPrefix.length).toBe(15);
    expect(ctx.posteriorPrefix.length).toBe(20);
    expect(checkContextBudget(ctx, { maxTraceTokens: 10, maxContext: 30 })).toBeUndefined();
    // With atomic tags both scored contexts hold the same tokens, so both overflow together.
    const both = checkContextBudget(ctx, { maxTraceTokens: 11, maxContext: 30 });
    expect(both).toMatch(
      /PRIOR-SCORE needs 31 tokens; POSTERIOR needs 31 tokens but maxContext is 30/,
    );
    expect(both).not.toMatch(/RLPR-BASELINE/);
    // baseline = 'Question: abc\n' + <answer> + 42 + </answer> = 18 tokens.
    expect(checkContextBudget(ctx, { maxTraceTokens: 1, maxContext: 17 })).toMatch(
      /RLPR-BASELINE needs 18 tokens/,
    );
    expect(() => checkContextBudget(ctx, { maxTraceTokens: 0, maxContext: 5 })).toThrow(
      /checkContextBudget: maxTraceTokens/,
    );
  });
});
