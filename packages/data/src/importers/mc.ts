/**
 * Multiple-choice importer (MMLU/ARC/CommonsenseQA-style records): a question, its options as a
 * list (`options` or `choices`) or as `A`..`J` fields, and the answer as a letter, a 0-based index
 * or the text of the correct option.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from '../errors.js';
import { dataError } from '../errors.js';
import type { Example } from '../schema.js';
import type { ImportOptions } from './common.js';
import { asObject, recordId, stringField } from './common.js';

const LETTERS = 'ABCDEFGHIJ';

/**
 * The question text shown to the model: the question, then one line per option, `A. <option>`.
 */
export function formatMultipleChoice(question: string, choices: readonly string[]): string {
  return [question.trim(), ...choices.map((c, i) => `${LETTERS[i] ?? '?'}. ${c.trim()}`)].join(
    '\n',
  );
}

function readChoices(
  record: Record<string, unknown>,
  where: RecordLocation,
): E.Either<DataError, string[]> {
  const listField = ['options', 'choices'].find((f) => record[f] !== undefined);
  if (listField !== undefined) {
    let list = record[listField];
    // ARC style: { choices: { text: [...], label: [...] } }
    if (typeof list === 'object' && list !== null && !Array.isArray(list)) {
      list = (list as Record<string, unknown>)['text'];
    }
    if (!Array.isArray(list) || list.length < 2 || list.length > LETTERS.length) {
      return E.left(
        dataError(where, listField, `expected an array of 2..${LETTERS.length} option strings`),
      );
    }
    const bad = list.findIndex((c) => typeof c !== 'string' && typeof c !== 'number');
    if (bad >= 0) return E.left(dataError(where, `${listField}[${bad}]`, 'expected a string'));
    return E.right(list.map((c) => String(c)));
  }
  const lettered: string[] = [];
  for (const letter of LETTERS) {
    const value = record[letter];
    if (value === undefined) break;
    if (typeof value !== 'string' && typeof value !== 'number') {
      return E.left(dataError(where, letter, 'expected an option string'));
    }
    lettered.push(String(value));
  }
  if (lettered.length < 2) {
    return E.left(
      dataError(
        where,
        'options',
        'missing; give "options": [...] (or "choices") or fields "A", "B", ... with at least 2 options',
      ),
    );
  }
  return E.right(lettered);
}

/**
 * Map a multiple-choice record to an {@link Example}: question text with lettered options
 * ({@link formatMultipleChoice}), answer = the letter (`B`), `choices` = the option texts.
 * The source answer (`answer`, else `label`) may be a letter (`b`, `(B)`), a 0-based index, or
 * the exact text of one option. Domain `non-math` unless `options.domain`, family `mc`.
 */
export function importMultipleChoice(
  raw: unknown,
  where: RecordLocation,
  options: ImportOptions = {},
): E.Either<DataError, Example> {
  const record = asObject(raw, where, 'multiple-choice');
  if (E.isLeft(record)) return record;
  const question = stringField(record.right, 'question', where, 'multiple-choice');
  if (E.isLeft(question)) return question;
  const choices = readChoices(record.right, where);
  if (E.isLeft(choices)) return choices;
  const n = choices.right.length;
  const answerField = record.right['answer'] !== undefined ? 'answer' : 'label';
  const given = record.right[answerField];
  let index = -1;
  if (typeof given === 'number' && Number.isInteger(given)) {
    index = given;
  } else if (typeof given === 'string') {
    const letter = /^\(?\s*([A-Ja-j])\s*\)?\.?$/.exec(given.trim())?.[1];
    index =
      letter !== undefined
        ? LETTERS.indexOf(letter.toUpperCase())
        : choices.right.findIndex((c) => c.trim() === given.trim());
  } else if (given === undefined) {
    return E.left(
      dataError(
        where,
        'answer',
        'missing; give the correct option as a letter, 0-based index or text',
      ),
    );
  }
  if (index < 0 || index >= n) {
    return E.left(
      dataError(
        where,
        answerField,
        `${JSON.stringify(given)} names no option; use a letter A..${LETTERS[n - 1] ?? '?'}, an index 0..${n - 1} or an option's text`,
      ),
    );
  }
  return E.right({
    id: recordId(record.right, 'mc', question.right),
    question: formatMultipleChoice(question.right, choices.right),
    answer: LETTERS[index] as string,
    domain: options.domain ?? 'non-math',
    family: options.family ?? 'mc',
    choices: choices.right,
  });
}
