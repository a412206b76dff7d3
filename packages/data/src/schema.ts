/**
 * The question/answer record every covrl package reads, and its decoder.
 *
 * methods.md §1 ("Data record"): the answer is kept as the exact string to score; normalisation for
 * exact-match evaluation lives in the verifiers. `family` names the generator or importer the record
 * came from (`addition`, `gsm8k`, ...), `domain` splits math-like from non-math families for the
 * transfer evaluation.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from './errors.js';
import { dataError } from './errors.js';
import { safeInteger, showValue } from './values.js';

/** Math-like families (arithmetic, algebra, word problems) versus the non-math transfer families. */
export type Domain = 'math' | 'non-math';

/** The valid {@link Domain} values, for CLI choices and messages. */
export const DOMAINS: readonly Domain[] = ['math', 'non-math'];

/** One question with its reference answer. */
export interface Example {
  /** Stable, unique id; the train/test split hashes it (`splitOf`). */
  readonly id: string;
  readonly question: string;
  /** The exact reference string scored by the likelihood rewards. */
  readonly answer: string;
  readonly domain: Domain;
  /** Generator or source name, e.g. `addition`, `gsm8k`. */
  readonly family: string;
  /** Difficulty level (synthetic families use 1..3). */
  readonly difficulty?: number;
  /** Options of a multiple-choice question, in letter order (A, B, ...). */
  readonly choices?: readonly string[];
}

const FIELDS = ['id', 'question', 'answer', 'domain', 'family', 'difficulty', 'choices'] as const;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'bigint') return `the integer ${value.toString()}`;
  return typeof value === 'number' ? `the number ${value}` : `a ${typeof value}`;
}

function requiredString(
  record: Record<string, unknown>,
  field: string,
  where: RecordLocation,
): E.Either<DataError, string> {
  const value = record[field];
  if (value === undefined) {
    return E.left(
      dataError(where, field, `missing required field; add "${field}": "<non-empty string>"`),
    );
  }
  if (typeof value !== 'string') {
    const hint =
      typeof value === 'number' || typeof value === 'bigint'
        ? ` (write numbers as strings, e.g. "${String(value)}")`
        : '';
    return E.left(dataError(where, field, `expected a string, got ${describe(value)}${hint}`));
  }
  if (value.trim() === '') {
    return E.left(
      dataError(where, field, 'empty string; give a non-empty value or drop the record'),
    );
  }
  return E.right(value);
}

/**
 * Decode one raw record (a parsed JSON object or a Parquet row) into an {@link Example}.
 *
 * Checks, in field order: the record is an object with no unknown keys; `id`, `question`,
 * `answer`, `family` are non-empty strings; `domain` is `math` or `non-math`; `difficulty`, when
 * present, is a positive integer (a `bigint` from a Parquet INT64 column within the safe-integer
 * range counts); `choices`, when present, is an array of at least two non-empty
 * strings. `null` counts as absent for the two optional fields (Parquet writes nulls there).
 * The first failure is returned as a Left naming `where` (file and line or row) and the field.
 */
export function decodeExample(raw: unknown, where: RecordLocation): E.Either<DataError, Example> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return E.left(
      dataError(
        where,
        '<record>',
        `expected a JSON object with fields ${FIELDS.join(', ')}, got ${describe(raw)}`,
      ),
    );
  }
  const record = raw as Record<string, unknown>;
  const unknownKey = Object.keys(record).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknownKey !== undefined) {
    return E.left(
      dataError(
        where,
        unknownKey,
        `unknown field; valid fields are ${FIELDS.join(', ')} (convert other formats with \`covrl data import\`)`,
      ),
    );
  }
  const id = requiredString(record, 'id', where);
  if (E.isLeft(id)) return id;
  const question = requiredString(record, 'question', where);
  if (E.isLeft(question)) return question;
  const answer = requiredString(record, 'answer', where);
  if (E.isLeft(answer)) return answer;
  const domain = record['domain'];
  if (domain === undefined) {
    return E.left(
      dataError(where, 'domain', 'missing required field; add "domain": "math" or "non-math"'),
    );
  }
  if (domain !== 'math' && domain !== 'non-math') {
    return E.left(
      dataError(where, 'domain', `expected "math" or "non-math", got ${showValue(domain)}`),
    );
  }
  const family = requiredString(record, 'family', where);
  if (E.isLeft(family)) return family;

  let example: Example = {
    id: id.right,
    question: question.right,
    answer: answer.right,
    domain,
    family: family.right,
  };
  const difficulty = record['difficulty'];
  if (difficulty !== undefined && difficulty !== null) {
    // Parquet INT64 columns arrive as bigint; outside the safe range there is no exact number.
    const value = safeInteger(difficulty);
    if (value === undefined || value < 1) {
      return E.left(
        dataError(
          where,
          'difficulty',
          `expected a positive integer, got ${describe(difficulty)}; use 1, 2, 3 ... or drop the field`,
        ),
      );
    }
    example = { ...example, difficulty: value };
  }
  const choices = record['choices'];
  if (choices !== undefined && choices !== null) {
    if (!Array.isArray(choices) || choices.length < 2) {
      return E.left(
        dataError(
          where,
          'choices',
          `expected an array of at least 2 strings, got ${describe(choices)}`,
        ),
      );
    }
    const bad = choices.findIndex((c) => typeof c !== 'string' || c.trim() === '');
    if (bad >= 0) {
      return E.left(
        dataError(
          where,
          `choices[${bad}]`,
          `expected a non-empty string, got ${describe(choices[bad])}`,
        ),
      );
    }
    example = { ...example, choices: choices as string[] };
  }
  return E.right(example);
}

/** The record as a plain JSON-ready object with optional fields omitted when absent. */
export function exampleToRecord(example: Example): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: example.id,
    question: example.question,
    answer: example.answer,
    domain: example.domain,
    family: example.family,
  };
  if (example.difficulty !== undefined) record['difficulty'] = example.difficulty;
  if (example.choices !== undefined) record['choices'] = [...example.choices];
  return record;
}
