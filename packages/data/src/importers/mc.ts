/**
 * Multiple-choice importer (MMLU/ARC/CommonsenseQA-style records): a question, its options as a
 * list (`options` or `choices`), an ARC object `choices: { text, label }` or `A`..`J` fields, and
 * the answer as a letter, a label (`answerKey`), a 0-based index or the text of the correct option.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from '../errors.js';
import { dataError } from '../errors.js';
import type { Example } from '../schema.js';
import type { ImportOptions } from './common.js';
import { asObject, isPresent, recordId, stringField } from './common.js';
import { safeInteger, showValue } from '../values.js';

const LETTERS = 'ABCDEFGHIJ';

/**
 * The question text shown to the model: the question, then one line per option, `A. <option>`.
 */
export function formatMultipleChoice(question: string, choices: readonly string[]): string {
  return [question.trim(), ...choices.map((c, i) => `${LETTERS[i] ?? '?'}. ${c.trim()}`)].join(
    '\n',
  );
}

/** The options of a record, in order, and their source labels when the record has them (ARC). */
interface Options {
  readonly texts: string[];
  /** `choices.label` of an ARC-style record (`A`..`E` or `1`..`5`), trimmed. */
  readonly labels?: string[];
}

/** An option-like scalar as text: strings as is, numbers and bigints as their digits. */
function optionText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/** A list of 2..10 non-empty option-like scalars, or a located error naming `field[i]`. */
function readTextList(
  list: unknown,
  field: string,
  what: string,
  where: RecordLocation,
): E.Either<DataError, string[]> {
  if (!Array.isArray(list) || list.length < 2 || list.length > LETTERS.length) {
    return E.left(
      dataError(
        where,
        field,
        `expected an array of 2..${LETTERS.length} ${what}, got ${showValue(list)}`,
      ),
    );
  }
  const texts: string[] = [];
  for (const [i, item] of list.entries()) {
    const text = optionText(item);
    if (text === undefined) {
      return E.left(
        dataError(where, `${field}[${i}]`, `expected a string, got ${showValue(item)}`),
      );
    }
    if (text.trim() === '') return E.left(dataError(where, `${field}[${i}]`, 'empty string'));
    texts.push(text);
  }
  return E.right(texts);
}

function readChoices(
  record: Record<string, unknown>,
  where: RecordLocation,
): E.Either<DataError, Options> {
  const listField = ['options', 'choices'].find((f) => isPresent(record[f]));
  if (listField !== undefined) {
    const list = record[listField];
    if (typeof list !== 'object' || list === null || Array.isArray(list)) {
      const texts = readTextList(list, listField, 'option strings', where);
      return E.isLeft(texts) ? texts : E.right({ texts: texts.right });
    }
    // ARC / CommonsenseQA style: { choices: { text: [...], label: [...] } }.
    const arc = list as Record<string, unknown>;
    const texts = readTextList(arc['text'], `${listField}.text`, 'option strings', where);
    if (E.isLeft(texts)) return texts;
    if (!isPresent(arc['label'])) return E.right({ texts: texts.right });
    const labels = readTextList(arc['label'], `${listField}.label`, 'labels', where);
    if (E.isLeft(labels)) return labels;
    const trimmed = labels.right.map((l) => l.trim());
    if (trimmed.length !== texts.right.length) {
      return E.left(
        dataError(
          where,
          `${listField}.label`,
          `has ${trimmed.length} labels for ${texts.right.length} options; give one label per option`,
        ),
      );
    }
    const repeated = trimmed.findIndex((l, i) => trimmed.indexOf(l) !== i);
    if (repeated >= 0) {
      return E.left(
        dataError(
          where,
          `${listField}.label[${repeated}]`,
          `repeats the label ${showValue(trimmed[repeated])}; labels must be distinct`,
        ),
      );
    }
    return E.right({ texts: texts.right, labels: trimmed });
  }
  const lettered: string[] = [];
  for (const letter of LETTERS) {
    const value = record[letter];
    // Parquet gives null for the unused letter columns of a row with fewer options.
    if (!isPresent(value)) break;
    const text = optionText(value);
    if (text === undefined) {
      return E.left(dataError(where, letter, `expected an option string, got ${showValue(value)}`));
    }
    if (text.trim() === '') return E.left(dataError(where, letter, 'empty string'));
    lettered.push(text);
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
  return E.right({ texts: lettered });
}

/** Source fields that may hold the answer, in the order they are looked for. */
const ANSWER_FIELDS = ['answer', 'answerKey', 'label'] as const;

/**
 * The 0-based option index `given` names, or -1. `answerKey` (ARC, CommonsenseQA) always holds a
 * label: it is matched against `labels`, else read as a letter. `answer`/`label` hold an integer
 * 0-based index (number or bigint), or a string matched, in order, against `labels`, as a letter,
 * and as the exact (trimmed) text of an option.
 */
function answerIndex(
  given: unknown,
  field: (typeof ANSWER_FIELDS)[number],
  options: Options,
): number {
  const index = safeInteger(given);
  if (field !== 'answerKey' && index !== undefined) return index;
  const text =
    field === 'answerKey' ? optionText(given) : typeof given === 'string' ? given : undefined;
  if (text === undefined) return -1;
  const key = text.trim();
  const byLabel = options.labels?.indexOf(key) ?? -1;
  if (byLabel >= 0) return byLabel;
  const letter = /^\(?\s*([A-Ja-j])\s*\)?\.?$/.exec(key)?.[1];
  if (letter !== undefined) return LETTERS.indexOf(letter.toUpperCase());
  return field === 'answerKey' ? -1 : options.texts.findIndex((c) => c.trim() === key);
}

/**
 * Map a multiple-choice record to an {@link Example}: question text with lettered options
 * ({@link formatMultipleChoice}), answer = the letter (`B`), `choices` = the option texts.
 *
 * Options: a list (`options` or `choices`, e.g. MMLU), an ARC/CommonsenseQA object
 * `choices: { text: [...], label: [...] }` (labels `A`..`E` or `1`..`5`, one per option,
 * distinct), or fields `A`..`J`; 2..10 non-empty strings (numbers and bigints are written as
 * digits). The answer is the first present field of `answer`, `answerKey`, `label`:
 * - `answerKey` is a label (string or integer): matched against `choices.label`, else a letter;
 * - `answer`/`label` is a 0-based index (a number, or a bigint from a Parquet INT64 column within
 *   the safe-integer range), or a string matched against `choices.label`, then as a letter
 *   (`b`, `(B)`), then as the exact text of one option.
 *
 * Labels take precedence, so `answerKey: "2"` with labels `1`..`4` is option B. Errors name the
 * field and show the raw value safely (bigints included). Domain `non-math` unless
 * `options.domain`, family `mc` unless `options.family`.
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
  const n = choices.right.texts.length;
  const answerField = ANSWER_FIELDS.find((f) => isPresent(record.right[f]));
  if (answerField === undefined) {
    return E.left(
      dataError(
        where,
        'answer',
        'missing; give the correct option in "answer" (a letter, 0-based index or text) or "answerKey" (a label)',
      ),
    );
  }
  const given = record.right[answerField];
  const index = answerIndex(given, answerField, choices.right);
  if (index < 0 || index >= n) {
    const labels = choices.right.labels;
    const ways =
      answerField === 'answerKey'
        ? `${labels === undefined ? '' : `a label ${labels.join(', ')} or `}a letter A..${LETTERS[n - 1] ?? '?'}`
        : `a letter A..${LETTERS[n - 1] ?? '?'}, ${labels === undefined ? '' : `a label ${labels.join(', ')}, `}an index 0..${n - 1} or an option's text`;
    return E.left(
      dataError(where, answerField, `${showValue(given)} names no option; use ${ways}`),
    );
  }
  return E.right({
    id: recordId(record.right, 'mc', question.right),
    question: formatMultipleChoice(question.right, choices.right.texts),
    answer: LETTERS[index] as string,
    domain: options.domain ?? 'non-math',
    family: options.family ?? 'mc',
    choices: choices.right.texts,
  });
}
