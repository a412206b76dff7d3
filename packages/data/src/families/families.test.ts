import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { formatPriorText } from '../corpus.js';
import { Rng } from '../rng.js';
import { DEFAULT_TEST_TAGS } from '../testing/index.js';
import type { Family } from './index.js';
import { FAMILY_NAMES, families, generateSuite, getFamily } from './index.js';

const all = Object.values(families) as Family[];
const LEVELS = [1, 2, 3] as const;

describe('registry', () => {
  it('has exactly the eight families the app config names', () => {
    expect([...FAMILY_NAMES]).toEqual([
      'addition',
      'linear-equation',
      'rate',
      'deduction',
      'string-ops',
      'ordering',
      'pair-sum',
      'pair-diff',
    ]);
    expect(all.filter((f) => f.domain === 'math').map((f) => f.name)).toEqual([
      'addition',
      'linear-equation',
      'rate',
      'pair-sum',
      'pair-diff',
    ]);
    expect(getFamily('algebra')).toEqual(
      E.left(
        'unknown family "algebra"; valid families: addition, linear-equation, rate, deduction, string-ops, ordering, pair-sum, pair-diff',
      ),
    );
  });

  it('generateSuite concatenates families in order', () => {
    const suite = generateSuite({
      families: ['rate', 'deduction'],
      perFamily: 3,
      seed: 4,
      difficulty: 2,
    });
    expect(suite.map((e) => e.id)).toEqual([
      'rate-d2-s4-000000',
      'rate-d2-s4-000001',
      'rate-d2-s4-000002',
      'deduction-d2-s4-000000',
      'deduction-d2-s4-000001',
      'deduction-d2-s4-000002',
    ]);
    expect(() =>
      generateSuite({ families: ['nope'], perFamily: 1, seed: 0, difficulty: 1 }),
    ).toThrow(/valid families/);
  });
});

describe.each(all.map((f) => [f.name, f] as const))('%s', (name, family) => {
  it('is deterministic per seed, prefix-stable, and seeds differ', () => {
    for (const difficulty of LEVELS) {
      const a = family.generate({ seed: 3, count: 40, difficulty });
      expect(family.generate({ seed: 3, count: 40, difficulty })).toEqual(a);
      expect(family.generate({ seed: 3, count: 10, difficulty })).toEqual(a.slice(0, 10));
      const b = family.generate({ seed: 4, count: 40, difficulty });
      expect(b.map((e) => e.question)).not.toEqual(a.map((e) => e.question));
      expect(a[17]?.id).toBe(`${name}-d${difficulty}-s3-000017`);
      expect(
        a.every(
          (e) => e.family === name && e.domain === family.domain && e.difficulty === difficulty,
        ),
      ).toBe(true);
      const other = family.generate({ seed: 3, count: 1, difficulty, stream: 'pretrain' });
      expect(other[0]?.id).toBe(`${name}-d${difficulty}-s3-pretrain-000000`);
    }
    expect(() => family.generate({ seed: 1, count: 1, difficulty: 4 })).toThrow(
      /difficulty must be 1, 2 or 3/,
    );
  });

  it('writes clean traces that reach the answer, with short answers that fit the context', () => {
    const rng = new Rng(11);
    for (const difficulty of LEVELS) {
      for (const example of family.generate({ seed: 5, count: 200, difficulty })) {
        const { trace, finalAnswer, corrupted } = family.writeTrace(example, { errorRate: 0, rng });
        expect(corrupted).toBe(false);
        expect(finalAnswer).toBe(example.answer);
        expect(trace).not.toMatch(/[<>]/);
        // The app's character tokenizer covers printable ASCII only.
        expect(`${example.question}${trace}${example.answer}`).toMatch(/^[\x20-\x7e]*$/);
        expect(example.question).not.toMatch(/[<>]/);
        expect(trace.length).toBeGreaterThan(0);
        expect(example.answer.length).toBeLessThanOrEqual(8);
        const text = formatPriorText(
          { question: example.question, trace, answer: finalAnswer },
          DEFAULT_TEST_TAGS,
        );
        // Char-level model with context 256: difficulty ≤ 2 must fit in ~200 characters.
        expect(text.length).toBeLessThanOrEqual(difficulty <= 2 ? 200 : 256);
      }
    }
  });

  it('verifier accepts the true answer and rejects a wrong one', () => {
    for (const example of family.generate({ seed: 6, count: 100, difficulty: 2 })) {
      expect(family.verify(example.answer, example)).toBe(true);
      expect(family.verify(` ${example.answer} `, example)).toBe(true);
      expect(family.verify(`${example.answer}x`, example)).toBe(false);
      expect(family.verify('', example)).toBe(false);
    }
  });

  it('corrupts about errorRate of the traces, and a corrupted trace always ends in a wrong answer', () => {
    const rng = new Rng(12);
    const examples = family.generate({ seed: 7, count: 2000, difficulty: 2 });
    let wrong = 0;
    for (const example of examples) {
      const written = family.writeTrace(example, { errorRate: 0.25, rng });
      const isWrong = !family.verify(written.finalAnswer, example);
      expect(isWrong).toBe(written.corrupted);
      if (isWrong) wrong += 1;
    }
    // Binomial(2000, 0.25): sd ≈ 19.4; allow 5 sd.
    expect(Math.abs(wrong - 500)).toBeLessThan(5 * 19.4);
    expect(() => family.writeTrace(examples[0] as never, { errorRate: 2, rng })).toThrow(
      /errorRate/,
    );
  });

  it('traces any seed and level back to its answer (property)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(...LEVELS),
        fc.nat(10_000),
        (seed, difficulty, index) => {
          const rng = new Rng(index);
          const example = family.generate({ seed, count: 1, difficulty, stream: `p${index}` })[0];
          if (example === undefined) throw new Error('no example');
          expect(family.writeTrace(example, { errorRate: 0, rng }).finalAnswer).toBe(
            example.answer,
          );
          const noisy = family.writeTrace(example, { errorRate: 1, rng });
          expect(noisy.corrupted).toBe(true);
          expect(family.verify(noisy.finalAnswer, example)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('trace checker (where the family has one): written traces are step-correct iff clean', () => {
    const check = family.checkTrace;
    if (check === undefined) return;
    const rng = new Rng(21);
    for (const difficulty of LEVELS) {
      for (const example of family.generate({ seed: 8, count: 300, difficulty })) {
        const written = family.writeTrace(example, { errorRate: 0.3, rng });
        const verdict = check(example, written.trace);
        expect(verdict.parsed).toBe(true);
        expect(verdict.stepCorrect).toBe(!written.corrupted);
        expect(verdict.traceAnswer).toBe(written.finalAnswer);
        // A trace cut short is never step-correct.
        expect(check(example, written.trace.slice(0, -2)).stepCorrect).toBe(false);
      }
    }
  });

  it('refuses to trace a question of another family', () => {
    const foreign = {
      id: 'x',
      question: 'What is love?',
      answer: '1',
      domain: 'math' as const,
      family: name,
    };
    expect(() => family.writeTrace(foreign, { errorRate: 0, rng: new Rng(1) })).toThrow(/is not a/);
  });
});

describe('trace fixtures', () => {
  const rng = new Rng(1);
  const trace = (name: keyof typeof families, question: string, answer: string) =>
    families[name].writeTrace(
      { id: 't', question, answer, domain: 'math', family: name },
      { errorRate: 0, rng },
    );

  it('traces by hand', () => {
    expect(trace('addition', 'What is 487+356?', '843')).toMatchObject({
      trace: '7+6=13, 8+5+1=14, 4+3+1=8, so 843',
      finalAnswer: '843',
    });
    expect(trace('addition', 'What is 95+17?', '112').trace).toBe('5+7=12, 9+1+1=11, so 112');
    expect(trace('linear-equation', 'Solve 3x-5=-20 for x.', '-5').trace).toBe(
      '3x=-20+5=-15, x=-15/3=-5',
    );
    expect(trace('rate', 'A pen costs 23 coins. What do 4 pens cost?', '92').trace).toBe(
      '20*4=80, 3*4=12, 80+12=92, so 92',
    );
    expect(
      trace('rate', 'A tap fills 4 L each minute. How many minutes to fill 28 L?', '7').trace,
    ).toBe('28/4=7');
    expect(
      trace('deduction', 'Bob is taller than Ann. Cal is taller than Bob. Who is shortest?', 'Ann')
        .trace,
    ).toBe('order Cal,Bob,Ann; so Ann');
    expect(trace('string-ops', 'How many a in banana?', '3').trace).toBe('b0 a1 n1 a2 n2 a3, so 3');
    expect(trace('string-ops', 'Take every 2nd letter of kitep.', 'ie').trace).toBe(
      '1k 2i 3t 4e 5p, even: i e',
    );
    expect(trace('ordering', 'Today is Tue. What day is it in 10 days?', 'Fri').trace).toBe(
      '10=7+3, Tue+3: Wed Thu Fri, so Fri',
    );
    expect(
      trace('ordering', 'Ann has 7 coins, Bob has 3, Cat has 5. Who has the 2nd most?', 'Cat')
        .trace,
    ).toBe('Ann 7, Cat 5, Bob 3; 2nd is Cat');
  });

  it('checks addition traces column by column', () => {
    const ex = {
      id: 'c',
      question: 'What is 487+356?',
      answer: '843',
      domain: 'math' as const,
      family: 'addition',
    };
    const check = (t: string) => families.addition.checkTrace?.(ex, t);
    expect(check('7+6=13, 8+5+1=14, 4+3+1=8, so 843')).toEqual({
      stepCorrect: true,
      parsed: true,
      steps: 4,
      wrongSteps: 0,
      traceAnswer: '843',
    });
    // A wrong column sum, a dropped carry, a misread digit, a result the columns do not give.
    expect(check('7+6=12, 8+5+1=14, 4+3+1=8, so 842')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
    });
    expect(check('7+6=13, 8+5=13, 4+3+1=8, so 833')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
    });
    expect(check('7+6=13, 8+4+1=13, 4+3+1=8, so 833')?.stepCorrect).toBe(false);
    expect(check('7+6=13, 8+5+1=14, 4+3+1=8, so 943')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
    });
    expect(check('7+6=13, 8+5+1=14, so 843')).toMatchObject({ stepCorrect: false, parsed: false });
  });

  it('verifies by family rules', () => {
    const ex = (name: keyof typeof families, answer: string) => ({
      id: 'v',
      question: 'q',
      answer,
      domain: 'math' as const,
      family: name,
    });
    expect(families.addition.verify('1,024', ex('addition', '1024'))).toBe(true);
    expect(families.addition.verify('01024', ex('addition', '1024'))).toBe(true);
    expect(families['linear-equation'].verify('-0', ex('linear-equation', '0'))).toBe(true);
    expect(families.deduction.verify('ann', ex('deduction', 'Ann'))).toBe(true);
    expect(families.ordering.verify('Fri.', ex('ordering', 'Fri'))).toBe(true);
    expect(families['string-ops'].verify('ie', ex('string-ops', 'ei'))).toBe(false);
  });
});
