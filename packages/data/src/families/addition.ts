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
  check({ a, b }, text) {
    // Grammar: `x+y[+c]=s` per column from the right, joined by `, `, then `, so <answer>`.
    const parts = text.trim().split(/,\s*/);
    const last = parts.pop() ?? '';
    const so = /^so (\d+)$/.exec(last);
    const da = digitsOf(a);
    const db = digitsOf(b);
    const columns = Math.max(da.length, db.length);
    let parsed = so !== null && parts.length === columns;
    let wrongSteps = 0;
    let carry = 0;
    const out: number[] = [];
    for (const [i, part] of parts.entries()) {
      const m = /^(\d)\+(\d)(?:\+(\d))?=(\d+)$/.exec(part);
      if (m === null) {
        parsed = false;
        break;
      }
      const [x, y, c, sum] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), Number(m[4])];
      // A step is right when it reads the column's digits and carry and adds them correctly.
      if (x !== (da[i] ?? 0) || y !== (db[i] ?? 0) || c !== carry || sum !== x + y + c) {
        wrongSteps += 1;
      }
      out.push(sum % 10);
      carry = sum >= 10 ? 1 : 0;
    }
    if (carry > 0) out.push(carry);
    const fromColumns = out.length === 0 ? undefined : String(Number(out.reverse().join('')));
    // The stated result must be what the columns give.
    if (so !== null && parsed && so[1] !== undefined && Number(so[1]) !== Number(fromColumns)) {
      wrongSteps += 1;
    }
    const traceAnswer = so === null ? undefined : String(Number(so[1]));
    return {
      stepCorrect: parsed && wrongSteps === 0,
      parsed,
      steps: parts.length + (so === null ? 0 : 1),
      wrongSteps,
      traceAnswer,
    };
  },
  normalise: normaliseInteger,
});
