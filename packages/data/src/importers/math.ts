/**
 * MATH importer (Hendrycks et al. 2021, arXiv 2103.03874; records `{problem, solution, level?,
 * type?}` with the final answer in the last `\boxed{...}` of the solution).
 */
import * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from '../errors.js';
import { dataError } from '../errors.js';
import type { Example } from '../schema.js';
import type { ImportOptions } from './common.js';
import { asObject, isPresent, recordId, stringField } from './common.js';
import { safeInteger, showValue } from '../values.js';

/**
 * The content of the last `\boxed{...}` or `\fbox{...}` in `solution`, with nested braces matched
 * (`\boxed{\frac{1}{2}}` → `\frac{1}{2}`) and escaped braces `\{`/`\}` skipped; also the
 * brace-less `\boxed 5` form. `undefined` when no complete box exists.
 */
export function lastBoxed(solution: string): string | undefined {
  const starts = [...solution.matchAll(/\\(?:boxed|fbox)\b/g)].map((m) => m.index);
  for (let k = starts.length - 1; k >= 0; k--) {
    const start = starts[k] as number;
    const macro = solution.startsWith('\\boxed', start) ? '\\boxed' : '\\fbox';
    let i = start + macro.length;
    if (solution[i] === ' ') {
      // `\boxed 5`: the argument runs to the next whitespace or `$`.
      const m = /^ +([^\s$]+)/.exec(solution.slice(i));
      if (m?.[1] !== undefined) return m[1];
      continue;
    }
    if (solution[i] !== '{') continue;
    let depth = 0;
    for (; i < solution.length; i++) {
      const c = solution[i];
      if (c === '\\') {
        i += 1; // skip the escaped character, e.g. \{ or \}
        continue;
      }
      if (c === '{') depth += 1;
      else if (c === '}') {
        depth -= 1;
        if (depth === 0) {
          const inner = solution.slice(start + macro.length + 1, i).trim();
          if (inner !== '') return inner;
          break;
        }
      }
    }
  }
  return undefined;
}

/** MATH's marker for an unrated problem (a few training problems carry `"Level ?"`). */
const UNRATED_LEVEL = /^level\s*\?$/i;

/**
 * The difficulty a MATH `level` names: `Right(undefined)` when absent (`undefined`/`null`) or
 * explicitly unrated (`"Level ?"`); `Right(n)` for a positive integer `n` given as a number, a
 * bigint (Parquet INT64) within the safe-integer range, `"n"` or `"Level n"`; else a located error.
 */
function readLevel(value: unknown, where: RecordLocation): E.Either<DataError, number | undefined> {
  if (!isPresent(value)) return E.right(undefined);
  if (typeof value === 'string' && UNRATED_LEVEL.test(value.trim())) return E.right(undefined);
  const digits =
    typeof value === 'string' ? /^(?:level\s*)?(\d+)$/i.exec(value.trim())?.[1] : undefined;
  const level = digits !== undefined ? Number(digits) : safeInteger(value);
  if (level !== undefined && Number.isSafeInteger(level) && level >= 1) return E.right(level);
  return E.left(
    dataError(
      where,
      'level',
      `expected a positive integer or "Level <n>" (or "Level ?" for unrated), got ${showValue(value)}; fix or drop the field`,
    ),
  );
}

/**
 * Map a MATH record to an {@link Example}: `problem` → question, last `\boxed{}` of `solution`
 * (or, without a solution, the `answer` field as given, as in MATH-500) → answer, `level` →
 * difficulty, domain `math` unless `options.domain`, family `math`.
 *
 * `level` may be `"Level 3"`, `"3"`, a number, or a bigint from a Parquet INT64 column (within the
 * safe-integer range); `null`, absent or `"Level ?"` (unrated) leave `difficulty` unset; any other
 * value is a located error on `level`, never dropped silently. `null` counts as absent for
 * `solution` too (Parquet writes nulls for missing values).
 */
export function importMath(
  raw: unknown,
  where: RecordLocation,
  options: ImportOptions = {},
): E.Either<DataError, Example> {
  const record = asObject(raw, where, 'MATH');
  if (E.isLeft(record)) return record;
  const question = stringField(record.right, 'problem', where, 'MATH');
  if (E.isLeft(question)) return question;
  let answer: string | undefined;
  if (isPresent(record.right['solution'])) {
    const solution = stringField(record.right, 'solution', where, 'MATH');
    if (E.isLeft(solution)) return solution;
    answer = lastBoxed(solution.right);
    if (answer === undefined) {
      return E.left(
        dataError(
          where,
          'solution',
          'no complete \\boxed{...} or \\fbox{...}; the final answer must be boxed',
        ),
      );
    }
  } else {
    const given = stringField(record.right, 'answer', where, 'MATH');
    if (E.isLeft(given)) {
      return E.left(
        dataError(where, 'solution', 'missing; a MATH record needs "solution" (or "answer")'),
      );
    }
    answer = given.right.trim();
  }
  const level = readLevel(record.right['level'], where);
  if (E.isLeft(level)) return level;
  const example: Example = {
    id: recordId(record.right, 'math', question.right),
    question: question.right.trim(),
    answer,
    domain: options.domain ?? 'math',
    family: options.family ?? 'math',
  };
  return E.right(level.right === undefined ? example : { ...example, difficulty: level.right });
}
