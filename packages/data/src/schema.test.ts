import * as E from 'fp-ts/lib/Either.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDataError } from './errors.js';
import { decodeExample, exampleToRecord } from './schema.js';

const where = { file: 'data/train.jsonl', line: 7 };
const good = {
  id: 'a1',
  question: 'What is 2+2?',
  answer: '4',
  domain: 'math',
  family: 'addition',
};

function leftOf(raw: unknown, at: Parameters<typeof decodeExample>[1] = where) {
  const result = decodeExample(raw, at);
  if (E.isRight(result)) throw new Error('expected a Left');
  return result.left;
}

describe('decodeExample', () => {
  it('accepts a full record and keeps optional fields', () => {
    const raw = { ...good, difficulty: 2, choices: ['x', 'y'] };
    expect(decodeExample(raw, where)).toEqual(E.right(raw));
    expect(decodeExample(good, where)).toEqual(E.right(good));
  });

  it('treats null optional fields (Parquet) as absent', () => {
    expect(decodeExample({ ...good, difficulty: null, choices: null }, where)).toEqual(
      E.right(good),
    );
  });

  it('names file, line and field for a missing field, with what to add', () => {
    const { answer: _answer, ...raw } = good;
    const error = leftOf(raw);
    expect(error).toMatchObject({ file: 'data/train.jsonl', line: 7, field: 'answer' });
    expect(formatDataError(error)).toBe(
      'data/train.jsonl:7: answer: missing required field; add "answer": "<non-empty string>"',
    );
  });

  it('reports the wrong type with a hint for numbers', () => {
    const error = leftOf({ ...good, answer: 42 });
    expect(error.field).toBe('answer');
    expect(error.message).toBe(
      'expected a string, got the number 42 (write numbers as strings, e.g. "42")',
    );
  });

  it('rejects empty strings, bad domains, difficulties, choices and unknown keys', () => {
    expect(leftOf({ ...good, question: '  ' })).toMatchObject({
      field: 'question',
      message: expect.stringContaining('empty'),
    });
    expect(leftOf({ ...good, domain: 'maths' })).toMatchObject({ field: 'domain' });
    expect(leftOf({ ...good, difficulty: 1.5 })).toMatchObject({ field: 'difficulty' });
    expect(leftOf({ ...good, difficulty: 0 })).toMatchObject({ field: 'difficulty' });
    expect(leftOf({ ...good, choices: ['a'] })).toMatchObject({ field: 'choices' });
    expect(leftOf({ ...good, choices: ['a', 3] })).toMatchObject({ field: 'choices[1]' });
    expect(leftOf({ ...good, anwser: '4' })).toMatchObject({
      field: 'anwser',
      message: expect.stringContaining('unknown field'),
    });
    expect(leftOf([1, 2])).toMatchObject({ field: '<record>' });
    expect(leftOf(null)).toMatchObject({ field: '<record>' });
  });

  it('accepts bigint difficulties (Parquet INT64) and shows bigints in messages without throwing', () => {
    expect(decodeExample({ ...good, difficulty: 3n }, where)).toEqual(
      E.right({ ...good, difficulty: 3 }),
    );
    // 2^53 + 1 has no exact number: rejected, not rounded.
    expect(leftOf({ ...good, difficulty: 9007199254740993n })).toMatchObject({
      field: 'difficulty',
      message: expect.stringContaining('the integer 9007199254740993'),
    });
    expect(leftOf({ ...good, domain: 1n })).toEqual({
      file: 'data/train.jsonl',
      line: 7,
      field: 'domain',
      message: 'expected "math" or "non-math", got 1',
    });
    expect(leftOf({ ...good, id: 5n }).message).toBe(
      'expected a string, got the integer 5 (write numbers as strings, e.g. "5")',
    );
  });

  it('uses rows for Parquet locations', () => {
    const error = leftOf({ ...good, id: 5 }, { file: 'x.parquet', row: 0 });
    expect(error).toEqual({
      file: 'x.parquet',
      row: 0,
      field: 'id',
      message: 'expected a string, got the number 5 (write numbers as strings, e.g. "5")',
    });
    expect(formatDataError(error)).toMatch(/^x\.parquet:row 0: id: /);
  });

  it('round-trips exampleToRecord for any valid example (property)', () => {
    const text = fc.string({ minLength: 1 }).filter((s) => s.trim() !== '');
    fc.assert(
      fc.property(
        fc.record(
          {
            id: text,
            question: text,
            answer: text,
            domain: fc.constantFrom('math' as const, 'non-math' as const),
            family: text,
            difficulty: fc.integer({ min: 1, max: 9 }),
            choices: fc.array(text, { minLength: 2, maxLength: 5 }),
          },
          { requiredKeys: ['id', 'question', 'answer', 'domain', 'family'] },
        ),
        (example) => {
          const json = JSON.parse(JSON.stringify(exampleToRecord(example))) as unknown;
          expect(decodeExample(json, where)).toEqual(E.right(example));
        },
      ),
    );
  });
});
