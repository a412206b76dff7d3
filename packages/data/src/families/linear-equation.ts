/**
 * `linear-equation`: solve a·x + b = c for an integer x in two steps
 * (`3x=20-5=15, x=15/3=5`). Difficulty widens the ranges of a, b and x and allows negatives.
 */
import { defineFamily, nonZero, normaliseInteger } from './define.js';

interface Problem {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

const signed = (n: number): string => (n < 0 ? `-${-n}` : `+${n}`);

/** The `linear-equation` family (math): see the module comment for levels, trace and noise. */
export const linearEquation = defineFamily<Problem>({
  name: 'linear-equation',
  domain: 'math',
  description: 'solve a*x+b=c for integer x; trace: move b, then divide by a',
  sample(rng, difficulty) {
    const [a, x, b] =
      difficulty === 1
        ? [rng.int(2, 5), rng.int(1, 9), rng.int(1, 9)]
        : difficulty === 2
          ? [rng.int(2, 9), nonZero(rng, -9, 9), nonZero(rng, -20, 20)]
          : [rng.int(6, 19), nonZero(rng, -30, 30), nonZero(rng, -99, 99)];
    return { a, b, c: a * x + b };
  },
  question: ({ a, b, c }) => `Solve ${a}x${signed(b)}=${c} for x.`,
  answer: ({ a, b, c }) => String((c - b) / a),
  parse(question) {
    const m = /^Solve (\d+)x([+-]\d+)=(-?\d+) for x\.$/.exec(question);
    if (m === null) return undefined;
    const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return Number.isInteger((c - b) / a) ? { a, b, c } : undefined;
  },
  steps: () => 2,
  trace({ a, b, c }, wrongStep, rng) {
    const delta = rng.next() < 0.5 ? -1 : 1;
    // Step 0 (move b): a wrong difference off by ±a keeps x an integer, off by ±1.
    const diff = c - b + (wrongStep === 0 ? delta * a : 0);
    // Step 1 (divide): a wrong quotient off by ±1.
    const x = diff / a + (wrongStep === 1 ? delta : 0);
    const move = `${a}x=${c}${signed(-b)}=${diff}`;
    return { trace: `${move}, x=${diff}/${a}=${x}`, finalAnswer: String(x) };
  },
  normalise: normaliseInteger,
});
