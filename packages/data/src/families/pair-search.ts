/**
 * `pair-sum` and `pair-diff`: find the one pair in a list of numbers whose sum (difference) is a
 * target. A search whose answer turns the trace into a check (methods.md §7b): the trace tries
 * pairs and checks each (`12+35=47 no, 19+27=46 yes`), so a model that already knows the answer
 * (the POSTERIOR template) only has to write the check, while the PRIOR has to guess the pair.
 *
 * Levels (numbers distinct, exactly one pair hits the target by construction):
 * - 1: 4 numbers in 1..29 (6 pairs);
 * - 2: 5 numbers in 10..49 (10 pairs);
 * - 3: 8 numbers in 10..49 (28 pairs): the same arithmetic as level 2, a search space almost
 *   three times larger, so a guessing prior rarely hits the pair within a trace of 1–3 tries.
 *
 * Trace: 0–2 tries of other pairs (each checked and rejected), then the answer pair, accepted.
 * A pair is written smaller number first for a sum and larger first for a difference.
 * Answer: the two numbers in ascending order, `19,27`.
 * Noise: one try is wrong: a non-answer pair is claimed to hit the target (`12+35=46 yes`) and the
 * trace stops there, so the answer follows the trace and is wrong.
 */
import type { Rng } from '../rng.js';
import type { FamilyName, TraceCheck } from './define.js';
import { at, defineFamily } from './define.js';

interface Problem {
  readonly numbers: readonly number[];
  readonly target: number;
}

interface Op {
  readonly name: Extract<FamilyName, 'pair-sum' | 'pair-diff'>;
  /** The question's relation word(s): `sum to` / `differ by`. */
  readonly phrase: string;
  readonly symbol: '+' | '-';
  /** Value of the pair (order-free). */
  apply(a: number, b: number): number;
  /** The pair in the order the trace writes it. */
  written(a: number, b: number): readonly [number, number];
}

const SUM: Op = {
  name: 'pair-sum',
  phrase: 'sum to',
  symbol: '+',
  apply: (a, b) => a + b,
  written: (a, b) => (a < b ? [a, b] : [b, a]),
};

const DIFF: Op = {
  name: 'pair-diff',
  phrase: 'differ by',
  symbol: '-',
  apply: (a, b) => Math.abs(a - b),
  written: (a, b) => (a > b ? [a, b] : [b, a]),
};

/** Size of the list and range of its numbers per level (see the module comment). */
const LEVELS: Readonly<Record<number, { size: number; lo: number; hi: number }>> = {
  1: { size: 4, lo: 1, hi: 29 },
  2: { size: 5, lo: 10, hi: 49 },
  3: { size: 8, lo: 10, hi: 49 },
};

/** Most rejected tries before the answer pair in a written trace. */
const MAX_FAILED_TRIES = 2;

/** All index pairs i < j of a list of length n. */
function pairsOf(n: number): Array<readonly [number, number]> {
  const out: Array<readonly [number, number]> = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

/** The answer string of a pair: ascending, comma-separated. */
const answerOf = (a: number, b: number): string => `${Math.min(a, b)},${Math.max(a, b)}`;

/** The pairs of `numbers` whose value under `op` is `target`. */
function hits(
  op: Op,
  numbers: readonly number[],
  target: number,
): Array<readonly [number, number]> {
  return pairsOf(numbers.length)
    .map(([i, j]) => [at(numbers, i), at(numbers, j)] as const)
    .filter(([a, b]) => op.apply(a, b) === target);
}

/**
 * Integers of an answer in ascending order, comma-joined (`27, 19` → `19,27`); any other text is
 * only trimmed, so it never matches a reference answer.
 */
export function normalisePair(answer: string): string {
  const s = answer.trim().replace(/\.$/, '');
  const m = /^(\d+)\s*[,+\-\s]\s*(\d+)$/.exec(s);
  if (m === null) return s;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return answerOf(a, b);
}

function sample(op: Op, rng: Rng, difficulty: number): Problem {
  const level = LEVELS[difficulty];
  if (level === undefined) throw new Error(`${op.name}: no level ${difficulty}`);
  const range: number[] = [];
  for (let v = level.lo; v <= level.hi; v++) range.push(v);
  // Rejection sampling: the chosen pair's value must be hit by no other pair (unique answer).
  // With ≤ 8 numbers in 10..49 about half of the draws pass, so the loop ends quickly.
  for (;;) {
    const numbers = rng.sample(range, level.size);
    const [i, j] = rng.pick(pairsOf(level.size));
    const target = op.apply(at(numbers, i), at(numbers, j));
    if (target > 0 && hits(op, numbers, target).length === 1) return { numbers, target };
  }
}

function parse(op: Op, question: string): Problem | undefined {
  const m = new RegExp(`^Which two of ([\\d,]+) ${op.phrase} (\\d+)\\?$`).exec(question);
  if (m === null) return undefined;
  const numbers = (m[1] as string).split(',').map(Number);
  const target = Number(m[2]);
  if (numbers.some((n) => !Number.isInteger(n)) || new Set(numbers).size !== numbers.length) {
    return undefined;
  }
  return hits(op, numbers, target).length === 1 ? { numbers, target } : undefined;
}

const tryText = (op: Op, a: number, b: number, value: number, ok: boolean): string => {
  const [x, y] = op.written(a, b);
  return `${x}${op.symbol}${y}=${value} ${ok ? 'yes' : 'no'}`;
};

function trace(
  op: Op,
  { numbers, target }: Problem,
  wrongStep: number | undefined,
  rng: Rng,
): { trace: string; finalAnswer: string } {
  const [answer] = hits(op, numbers, target) as [readonly [number, number]];
  const others = pairsOf(numbers.length)
    .map(([i, j]) => [at(numbers, i), at(numbers, j)] as const)
    .filter(([a, b]) => op.apply(a, b) !== target);
  const failed = rng.int(0, MAX_FAILED_TRIES);
  // The rejected tries, plus one spare wrong pair for a corrupted last step.
  const wrong = rng.sample(others, Math.min(others.length, failed + 1));
  const parts: string[] = [];
  for (let t = 0; t < failed; t++) {
    const [a, b] = at(wrong, t);
    if (t === wrongStep) {
      // A wrong pair claimed to hit the target: the trace stops and the answer follows it.
      parts.push(tryText(op, a, b, target, true));
      return { trace: parts.join(', '), finalAnswer: answerOf(a, b) };
    }
    parts.push(tryText(op, a, b, op.apply(a, b), false));
  }
  if (wrongStep !== undefined) {
    const [a, b] = at(wrong, failed);
    parts.push(tryText(op, a, b, target, true));
    return { trace: parts.join(', '), finalAnswer: answerOf(a, b) };
  }
  parts.push(tryText(op, answer[0], answer[1], target, true));
  return { trace: parts.join(', '), finalAnswer: answerOf(answer[0], answer[1]) };
}

/**
 * Check a trace step by step against the problem. Grammar: tries `x<op>y=v yes|no` joined by
 * `, `. A try is correct when x and y are two different numbers of the list (x ≥ y for a
 * difference), v is their true value, and the verdict is `yes` exactly when v is the target. The
 * trace is step-correct when it parses, every try is correct, only the last says `yes`; it then
 * reaches the unique answer pair.
 */
function check(op: Op, { numbers, target }: Problem, text: string): TraceCheck {
  const parts = text.trim() === '' ? [] : text.trim().split(/,\s*/);
  const tryRe =
    op.symbol === '+' ? /^(\d+)\+(\d+)=(-?\d+) (yes|no)$/ : /^(\d+)-(\d+)=(-?\d+) (yes|no)$/;
  const listed = new Set(numbers);
  let parsed = parts.length > 0;
  let wrongSteps = 0;
  let traceAnswer: string | undefined;
  for (const [k, part] of parts.entries()) {
    const m = tryRe.exec(part);
    if (m === null) {
      parsed = false;
      break;
    }
    const [x, y, v] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const yes = m[4] === 'yes';
    const orderOk = op.symbol === '+' || x >= y;
    const value = op.apply(x, y);
    const correct =
      listed.has(x) && listed.has(y) && x !== y && orderOk && v === value && yes === (v === target);
    if (!correct) wrongSteps += 1;
    if (yes) {
      traceAnswer = answerOf(x, y);
      if (k !== parts.length - 1) parsed = false;
      break;
    }
  }
  const stepCorrect = parsed && wrongSteps === 0 && traceAnswer !== undefined;
  return { stepCorrect, parsed, steps: parts.length, wrongSteps, traceAnswer };
}

function pairFamily(op: Op, description: string) {
  return defineFamily<Problem>({
    name: op.name,
    domain: 'math',
    description,
    sample: (rng, difficulty) => sample(op, rng, difficulty),
    question: ({ numbers, target }) => `Which two of ${numbers.join(',')} ${op.phrase} ${target}?`,
    answer: (problem) => {
      const [[a, b]] = hits(op, problem.numbers, problem.target) as [readonly [number, number]];
      return answerOf(a, b);
    },
    parse: (question) => parse(op, question),
    // Corruptible steps: up to MAX_FAILED_TRIES rejected tries and the accepting one.
    steps: () => MAX_FAILED_TRIES + 1,
    trace: (problem, wrongStep, rng) => trace(op, problem, wrongStep, rng),
    check: (problem, text) => check(op, problem, text),
    normalise: normalisePair,
  });
}

/** The `pair-sum` family (math): the pair whose sum is the target; see the module comment. */
export const pairSum = pairFamily(
  SUM,
  'find the one pair of listed numbers that sums to the target; trace: try pairs, check each sum',
);

/**
 * The `pair-diff` family (math): the pair whose difference is the target; the same search and
 * check as `pair-sum` with subtraction (its near-transfer partner); see the module comment.
 */
export const pairDiff = pairFamily(
  DIFF,
  'find the one pair of listed numbers that differs by the target; trace: try pairs, check each difference',
);
