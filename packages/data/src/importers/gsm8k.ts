/**
 * GSM8K importer (Cobbe et al. 2021, arXiv 2110.14168; records `{question, answer}` where the
 * answer is a worked solution ending in `#### <final answer>`).
 */
import * as E from 'fp-ts/lib/Either.js';
import { dataError } from '../errors.js';
import type { DataError, RecordLocation } from '../errors.js';
import type { Example } from '../schema.js';
import type { ImportOptions } from './common.js';
import { asObject, recordId, stringField } from './common.js';

/**
 * The final answer of a GSM8K solution: the text after the last `####`, trimmed, with thousands
 * separators removed from numbers (`1,234` → `1234`). `undefined` when there is no `####` or
 * nothing after it.
 */
export function gsm8kFinalAnswer(solution: string): string | undefined {
  const at = solution.lastIndexOf('####');
  if (at < 0) return undefined;
  const answer = solution
    .slice(at + 4)
    .trim()
    .replace(/(?<=\d),(?=\d)/g, '');
  return answer === '' ? undefined : answer;
}

/**
 * Map a GSM8K record to an {@link Example}: `question` → question, final answer after `####` in
 * `answer` → answer, domain `math` unless `options.domain`, family `gsm8k` unless `options.family`.
 */
export function importGsm8k(
  raw: unknown,
  where: RecordLocation,
  options: ImportOptions = {},
): E.Either<DataError, Example> {
  const record = asObject(raw, where, 'GSM8K');
  if (E.isLeft(record)) return record;
  const question = stringField(record.right, 'question', where, 'GSM8K');
  if (E.isLeft(question)) return question;
  const solution = stringField(record.right, 'answer', where, 'GSM8K');
  if (E.isLeft(solution)) return solution;
  const answer = gsm8kFinalAnswer(solution.right);
  if (answer === undefined) {
    return E.left(
      dataError(
        where,
        'answer',
        'no final answer: a GSM8K answer must end with "#### <number>"; is this file GSM8K?',
      ),
    );
  }
  return E.right({
    id: recordId(record.right, 'gsm8k', question.right),
    question: question.right.trim(),
    answer,
    domain: options.domain ?? 'math',
    family: options.family ?? 'gsm8k',
  });
}
