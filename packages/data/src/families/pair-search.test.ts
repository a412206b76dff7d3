import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import type { Example } from '../schema.js';
import { normalisePair, pairDiff, pairSum } from './pair-search.js';

const both = [
  ['pair-sum', pairSum, (a: number, b: number) => a + b],
  ['pair-diff', pairDiff, (a: number, b: number) => Math.abs(a - b)],
] as const;

/** The numbers and target of a generated question (read back independently of the family). */
function problemOf(question: string): { numbers: number[]; target: number } {
  const m = /^Which two of ([\d,]+) (?:sum to|differ by) (\d+)\?$/.exec(question);
  if (m === null) throw new Error(`not a pair question: ${question}`);
  return { numbers: (m[1] as string).split(',').map(Number), target: Number(m[2]) };
}

describe.each(both)('%s', (name, family, value) => {
  it('levels: list size and number range, one pair hitting the target', () => {
    const spec = { 1: [4, 1, 29], 2: [5, 10, 49], 3: [8, 10, 49] } as const;
    for (const difficulty of [1, 2, 3] as const) {
      const [size, lo, hi] = spec[difficulty];
      for (const e of family.generate({ seed: 9, count: 300, difficulty })) {
        const { numbers, target } = problemOf(e.question);
        expect(numbers).toHaveLength(size);
        expect(new Set(numbers).size).toBe(size);
        expect(Math.min(...numbers)).toBeGreaterThanOrEqual(lo);
        expect(Math.max(...numbers)).toBeLessThanOrEqual(hi);
        const hitting: string[] = [];
        for (let i = 0; i < size; i++) {
          for (let j = i + 1; j < size; j++) {
            const [a, b] = [numbers[i] as number, numbers[j] as number];
            if (value(a, b) === target) hitting.push(`${Math.min(a, b)},${Math.max(a, b)}`);
          }
        }
        expect(hitting).toEqual([e.answer]);
      }
    }
  });

  it('is deterministic by seed and differs across seeds and streams', () => {
    const a = family.generate({ seed: 1, count: 50, difficulty: 3 });
    expect(family.generate({ seed: 1, count: 50, difficulty: 3 })).toEqual(a);
    const b = family.generate({ seed: 2, count: 50, difficulty: 3 });
    const c = family.generate({ seed: 1, count: 50, difficulty: 3, stream: 'pretrain' });
    expect(b.map((e) => e.question)).not.toEqual(a.map((e) => e.question));
    expect(c.map((e) => e.question)).not.toEqual(a.map((e) => e.question));
    const rngA = new Rng(3);
    const rngB = new Rng(3);
    for (const e of a) {
      expect(family.writeTrace(e, { errorRate: 0.5, rng: rngA })).toEqual(
        family.writeTrace(e, { errorRate: 0.5, rng: rngB }),
      );
    }
  });

  it('verifier: either order and separators, nothing else', () => {
    const [e] = family.generate({ seed: 4, count: 1, difficulty: 2 }) as [Example];
    const [lo, hi] = e.answer.split(',') as [string, string];
    for (const ok of [
      `${lo},${hi}`,
      `${hi},${lo}`,
      ` ${lo}, ${hi} `,
      `${lo}+${hi}`,
      `${hi}-${lo}`,
    ]) {
      expect(family.verify(ok, e)).toBe(true);
    }
    for (const bad of [lo, `${lo},${hi},${lo}`, `${lo},${Number(hi) + 1}`, '', 'yes']) {
      expect(family.verify(bad, e)).toBe(false);
    }
  });

  it('checker: clean written traces are step-correct, corrupted ones are not', () => {
    const rng = new Rng(8);
    const check = family.checkTrace;
    if (check === undefined) throw new Error(`${name} has no trace checker`);
    let corrupted = 0;
    for (const difficulty of [1, 2, 3]) {
      for (const e of family.generate({ seed: 5, count: 300, difficulty })) {
        const w = family.writeTrace(e, { errorRate: 0.3, rng });
        const verdict = check(e, w.trace);
        expect(verdict.parsed).toBe(true);
        expect(verdict.traceAnswer).toBe(w.finalAnswer);
        expect(verdict.stepCorrect).toBe(!w.corrupted);
        expect(verdict.wrongSteps).toBe(w.corrupted ? 1 : 0);
        if (w.corrupted) corrupted += 1;
      }
    }
    // Binomial(900, 0.3): mean 270, sd ≈ 13.7; allow 5 sd.
    expect(Math.abs(corrupted - 270)).toBeLessThan(5 * 13.7);
  });
});

describe('trace checker by hand', () => {
  const sum: Example = {
    id: 's',
    question: 'Which two of 12,35,8,27,19 sum to 46?',
    answer: '19,27',
    domain: 'math',
    family: 'pair-sum',
  };
  const diff: Example = {
    id: 'd',
    question: 'Which two of 12,35,8,27,19 differ by 16?',
    answer: '19,35',
    domain: 'math',
    family: 'pair-diff',
  };
  const checkSum = (t: string) => pairSum.checkTrace?.(sum, t);
  const checkDiff = (t: string) => pairDiff.checkTrace?.(diff, t);

  it('accepts a correct search and a direct hit', () => {
    expect(checkSum('12+35=47 no, 19+27=46 yes')).toEqual({
      stepCorrect: true,
      parsed: true,
      steps: 2,
      wrongSteps: 0,
      traceAnswer: '19,27',
    });
    expect(checkSum('27+19=46 yes')?.stepCorrect).toBe(true);
    expect(checkDiff('35-19=16 yes')?.stepCorrect).toBe(true);
  });

  it('names each kind of wrong step', () => {
    // Wrong sum.
    expect(checkSum('12+35=48 no, 19+27=46 yes')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
    });
    // False "yes" (the trace's answer is then wrong).
    expect(checkSum('12+35=46 yes')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
      traceAnswer: '12,35',
    });
    // A number not in the list, and a pair of one number.
    expect(checkSum('20+26=46 yes')?.stepCorrect).toBe(false);
    expect(checkSum('23+23=46 yes')?.stepCorrect).toBe(false);
    // A false "no" and no accepting step.
    expect(checkSum('19+27=46 no')).toMatchObject({ stepCorrect: false, traceAnswer: undefined });
    // A difference written smaller first, or negative.
    expect(checkDiff('19-35=16 yes')?.stepCorrect).toBe(false);
    expect(checkDiff('19-35=-16 no, 35-19=16 yes')).toMatchObject({
      stepCorrect: false,
      wrongSteps: 1,
    });
  });

  it('refuses text outside the grammar, text after the accepting step, and cut traces', () => {
    expect(checkSum('')).toMatchObject({ stepCorrect: false, parsed: false, steps: 0 });
    expect(checkSum('19+27=46 yes, 12+8=20 no')).toMatchObject({
      stepCorrect: false,
      parsed: false,
    });
    expect(checkSum('12+35=47 no, 19+2')).toMatchObject({ stepCorrect: false, parsed: false });
    expect(() => pairSum.checkTrace?.({ ...sum, question: 'What is 2+2?' }, '2+2=4 yes')).toThrow(
      /pair-sum\.checkTrace: .* is not a pair-sum question/,
    );
  });

  it('normalisePair', () => {
    expect(normalisePair('27, 19')).toBe('19,27');
    expect(normalisePair('19+27.')).toBe('19,27');
    expect(normalisePair('1927')).toBe('1927');
  });
});
