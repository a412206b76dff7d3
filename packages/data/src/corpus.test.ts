import { describe, expect, it } from 'vitest';
import type { CorpusTags } from './corpus.js';
import {
  buildPretrainCorpus,
  formatNoTraceText,
  formatPosteriorText,
  formatPriorText,
} from './corpus.js';
import { families, generateSuite } from './families/index.js';
import type { FamilyName } from './families/index.js';
import { Rng } from './rng.js';
import { DEFAULT_TEST_TAGS } from './testing/index.js';

const tags = DEFAULT_TEST_TAGS;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parse a corpus text back into its shape and parts, using only the tag strings. */
function parseText(text: string, t: CorpusTags) {
  const [q, s, to, tc, ao, ac] = [
    t.questionPrefix,
    t.separator,
    t.thinkOpen,
    t.thinkClose,
    t.answerOpen,
    t.answerClose,
  ].map(escape);
  const prior = new RegExp(`^${q}([^]*?)${s}${to}([^]*?)${tc}${s}${ao}([^]*?)${ac}$`).exec(text);
  if (prior !== null)
    return {
      shape: 'prior',
      question: prior[1] ?? '',
      trace: prior[2] ?? '',
      answer: prior[3] ?? '',
    } as const;
  const posterior = new RegExp(`^${q}([^]*?)${s}${ao}([^]*?)${ac}${s}${to}([^]*?)${tc}$`).exec(
    text,
  );
  if (posterior !== null)
    return {
      shape: 'posterior',
      question: posterior[1] ?? '',
      answer: posterior[2] ?? '',
      trace: posterior[3] ?? '',
    } as const;
  const noTrace = new RegExp(`^${q}([^]*?)${s}${ao}([^]*?)${ac}$`).exec(text);
  if (noTrace !== null)
    return { shape: 'noTrace', question: noTrace[1] ?? '', answer: noTrace[2] ?? '' } as const;
  return { shape: 'none' } as const;
}

/** The true answer of a generated question, recovered through its family's clean trace. */
function trueAnswer(family: FamilyName, question: string): string {
  return families[family].writeTrace(
    { id: 'x', question, answer: '', domain: 'math', family },
    { errorRate: 0, rng: new Rng(0) },
  ).finalAnswer;
}

describe('text shapes', () => {
  it('match the methods.md §1 worked example exactly', () => {
    const parts = { question: 'What is 7*6?', trace: '7 sixes: 42.', answer: '42' };
    expect(formatPriorText(parts, tags)).toBe(
      'Question: What is 7*6?\n<think>7 sixes: 42.</think>\n<answer>42</answer>',
    );
    expect(formatPosteriorText(parts, tags)).toBe(
      'Question: What is 7*6?\n<answer>42</answer>\n<think>7 sixes: 42.</think>',
    );
    expect(formatNoTraceText(parts, tags)).toBe('Question: What is 7*6?\n<answer>42</answer>');
  });
});

describe('buildPretrainCorpus', () => {
  const options = {
    families: ['addition', 'string-ops'],
    examplesPerFamily: 1200,
    seed: 9,
    difficulty: [1, 2],
    tags,
  } as const;
  const corpus = buildPretrainCorpus(options);
  const familyOfQuestion = (q: string): FamilyName =>
    q.startsWith('What is') ? 'addition' : 'string-ops';

  it('writes every text in one of the three shapes and counts them in the mix', () => {
    const parsed = corpus.texts.map((t) => parseText(t, tags));
    const count = (shape: string) => parsed.filter((p) => p.shape === shape).length;
    expect(count('none')).toBe(0);
    expect(corpus.texts).toHaveLength(2400);
    expect({
      prior: count('prior'),
      posterior: count('posterior'),
      noTrace: count('noTrace'),
    }).toEqual({
      prior: corpus.mix.prior,
      posterior: corpus.mix.posterior,
      noTrace: corpus.mix.noTrace,
    });
    expect(corpus.mix.total).toBe(2400);
    expect(corpus.mix.byFamily['addition']?.total).toBe(1200);
    expect(corpus.mix.byDifficulty).toEqual({ '1': 1200, '2': 1200 });
    // Shares: Binomial(2400, p) sd ≤ 25; allow 5 sd.
    expect(Math.abs(corpus.mix.posterior - 0.33 * 2400)).toBeLessThan(125);
    expect(Math.abs(corpus.mix.noTrace - 0.17 * 2400)).toBeLessThan(125);
  });

  it('PRIOR answers follow noisy traces at ~25%; POSTERIOR shows the true answer with ~5% noisy traces', () => {
    let priorWrong = 0;
    let posteriorWrong = 0;
    for (const text of corpus.texts) {
      const p = parseText(text, tags);
      if (p.shape === 'none') continue;
      const family = familyOfQuestion(p.question);
      const truth = trueAnswer(family, p.question);
      if (p.shape === 'noTrace') expect(p.answer).toBe(truth);
      if (p.shape === 'prior') {
        if (p.answer !== truth) priorWrong += 1;
        expect(p.trace.endsWith(p.answer) || p.trace.endsWith(p.answer.split('').join(' '))).toBe(
          true,
        );
      }
      if (p.shape === 'posterior') {
        expect(p.answer).toBe(truth);
        const clean = families[family].writeTrace(
          { id: 'x', question: p.question, answer: truth, domain: 'math', family },
          { errorRate: 0, rng: new Rng(0) },
        );
        if (p.trace !== clean.trace) posteriorWrong += 1;
      }
    }
    expect(priorWrong).toBe(corpus.mix.priorTraceErrors);
    expect(posteriorWrong).toBe(corpus.mix.posteriorTraceErrors);
    expect(Math.abs(priorWrong / corpus.mix.prior - 0.25)).toBeLessThan(0.05);
    expect(Math.abs(posteriorWrong / corpus.mix.posterior - 0.05)).toBeLessThan(0.03);
  });

  it('is deterministic, draws from a stream disjoint from the RL seeds, and can exclude RL questions', () => {
    expect(buildPretrainCorpus(options)).toEqual(corpus);
    const rl = generateSuite({
      families: ['addition', 'string-ops'],
      perFamily: 300,
      seed: 9,
      difficulty: 1,
    });
    const rlQuestions = new Set(rl.map((e) => e.question));
    const excluded = buildPretrainCorpus({ ...options, excludeQuestions: rlQuestions });
    const questions = excluded.texts
      .map((t) => parseText(t, tags))
      .map((p) => (p.shape === 'none' ? '' : p.question));
    expect(questions.filter((q) => rlQuestions.has(q))).toEqual([]);
    expect(excluded.texts).toHaveLength(2400);
    expect(excluded.mix.excluded).toBeGreaterThan(0);
  });

  it('follows the tags (the <thinking> variant) and family weights', () => {
    const thinking = { ...tags, thinkOpen: '<thinking>', thinkClose: '</thinking>' };
    const c = buildPretrainCorpus({
      ...options,
      examplesPerFamily: 100,
      tags: thinking,
      familyWeights: { 'string-ops': 0.5 },
    });
    expect(c.mix.byFamily['string-ops']?.total).toBe(50);
    expect(c.texts.every((t) => parseText(t, thinking).shape !== 'none')).toBe(true);
    expect(c.texts.some((t) => t.includes('<think>'))).toBe(false);
  });

  it('rejects bad shares and unknown families with what to change', () => {
    expect(() =>
      buildPretrainCorpus({ ...options, posteriorShare: 0.9, noTraceShare: 0.2 }),
    ).toThrow(/lower one of them/);
    expect(() => buildPretrainCorpus({ ...options, families: ['algebra'] })).toThrow(
      /valid families/,
    );
    expect(() => buildPretrainCorpus({ ...options, tags: { ...tags, answerOpen: 'is' } })).toThrow(
      /contains the tag/,
    );
  });
});
