/**
 * `addition`: multi-digit addition with carries, traced column by column from the right
 * (`7+6=13, 8+5+1=14, 4+3+1=8, so 843`). Difficulty d uses (d+1)-digit operands.
 */
import { defineFamily, normaliseInteger } from './define.js';

interface Problem {
  readonly a: number;
  readonly b: number;
}

const digitsOf = (n: number): number[] => String(n).split('').reverse().map(Number);

/** The `addition` family (math): see the module comment for levels, trace and noise. */
export const addition = defineFamily<Problem>({
  name: 'addition',
  domain: 'math',
  description: 'add two (d+1)-digit numbers; trace: column sums with carries, right to left',
  sample(rng, difficulty) {
    const lo = 10 ** difficulty;
    const hi = 10 ** (difficulty + 1) - 1;
    return { a: rng.int(lo, hi), b: rng.int(lo, hi) };
  },
  question: ({ a, b }) => `What is ${a}+${b}?`,
  answer: ({ a, b }) => String(a + b),
  parse(question) {
    const m = /^What is (\d+)\+(\d+)\?$/.exec(question);
    return m === null ? undefined : { a: Number(m[1]), b: Number(m[2]) };
  },
  steps: ({ a, b }) => Math.max(String(a).length, String(b).length),
  trace({ a, b }, wrongStep, rng) {
    const da = digitsOf(a);
    const db = digitsOf(b);
    const columns = Math.max(da.length, db.length);
    const parts: string[] = [];
    const out: number[] = [];
    let carry = 0;
    for (let i = 0; i < columns; i++) {
      const x = da[i] ?? 0;
      const y = db[i] ?? 0;
      let sum = x + y + carry;
      if (i === wrongStep) {
        // Off by one, kept within the possible column range 0..19 so it still looks like a sum.
        sum = sum === 0 ? 1 : sum === 19 ? 18 : sum + (rng.next() < 0.5 ? -1 : 1);
      }
      parts.push(`${x}+${y}${carry > 0 ? `+${carry}` : ''}=${sum}`);
      out.push(sum % 10);
      carry = sum >= 10 ? 1 : 0;
    }
    if (carry > 0) out.push(carry);
    const finalAnswer = String(Number(out.reverse().join('')));
    return { trace: `${parts.join(', ')}, so ${finalAnswer}`, finalAnswer };
  },
  normalise: normaliseInteger,
});
