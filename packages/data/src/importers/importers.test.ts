import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../load.js';
import { collect } from '../stream.js';
import { writeSourceParquet } from '../testing/index.js';
import {
  getImporter,
  gsm8kFinalAnswer,
  importGsm8k,
  importMath,
  importMultipleChoice,
  lastBoxed,
} from './index.js';

const where = { file: 'src.jsonl', line: 3 };

describe('gsm8k', () => {
  it('takes the answer after the last ####, without thousands separators', () => {
    expect(gsm8kFinalAnswer('She pays 2*600 = <<2*600=1200>>1,200.\n#### 1,200')).toBe('1200');
    expect(gsm8kFinalAnswer('#### 12,345,678 ')).toBe('12345678');
    expect(gsm8kFinalAnswer('#### -3.5')).toBe('-3.5');
    expect(gsm8kFinalAnswer('no marker')).toBeUndefined();
    expect(gsm8kFinalAnswer('#### ')).toBeUndefined();
  });

  it('maps a record with a stable id, domain math by default', () => {
    const raw = { question: ' How many? ', answer: 'Work.\n#### 1,024' };
    const a = importGsm8k(raw, where);
    const b = importGsm8k(raw, { file: 'other.jsonl', line: 99 });
    expect(a).toEqual(b);
    expect(E.isRight(a) && a.right).toMatchObject({
      question: 'How many?',
      answer: '1024',
      domain: 'math',
      family: 'gsm8k',
    });
    expect(E.isRight(a) && a.right.id).toMatch(/^gsm8k-[0-9a-f]{16}$/);
    expect(importGsm8k(raw, where, { domain: 'non-math' })).toMatchObject({
      right: { domain: 'non-math' },
    });
  });

  it('locates missing fields and answers without ####', () => {
    expect(importGsm8k({ answer: '#### 1' }, where)).toMatchObject({
      left: { line: 3, field: 'question' },
    });
    expect(importGsm8k({ question: 'q', answer: '42' }, where)).toMatchObject({
      left: {
        file: 'src.jsonl',
        line: 3,
        field: 'answer',
        message: expect.stringContaining('####'),
      },
    });
  });
});

describe('math', () => {
  it('extracts the last complete box with nested and escaped braces', () => {
    expect(lastBoxed('so $\\boxed{\\frac{1}{\\sqrt{2}}}$.')).toBe('\\frac{1}{\\sqrt{2}}');
    expect(lastBoxed('first \\boxed{1} then \\boxed{2}')).toBe('2');
    expect(lastBoxed('\\fbox{x^{2}}')).toBe('x^{2}');
    expect(lastBoxed('set \\boxed{\\{1, 2\\}}')).toBe('\\{1, 2\\}');
    expect(lastBoxed('answer $\\boxed 5$')).toBe('5');
    expect(lastBoxed('\\boxed{3} and a broken \\boxed{4')).toBe('3');
    expect(lastBoxed('no box')).toBeUndefined();
  });

  it('maps problem/solution/level and reports unboxed solutions', () => {
    const raw = {
      problem: 'Find x.',
      solution: 'Thus $x = \\boxed{\\dfrac{3}{4}}$.',
      level: 'Level 4',
      type: 'Algebra',
    };
    expect(importMath(raw, where)).toMatchObject({
      right: {
        question: 'Find x.',
        answer: '\\dfrac{3}{4}',
        domain: 'math',
        family: 'math',
        difficulty: 4,
      },
    });
    expect(importMath({ problem: 'p', answer: '7' }, where)).toMatchObject({
      right: { answer: '7' },
    });
    expect(importMath({ problem: 'p', solution: 'x = 3' }, where)).toMatchObject({
      left: { line: 3, field: 'solution', message: expect.stringContaining('boxed') },
    });
  });

  it('reads level as a bigint (Parquet INT64), a number or "Level n"; never drops it silently', () => {
    const base = { problem: 'p', solution: '\\boxed{1}' };
    const difficulty = (level: unknown) => {
      const result = importMath({ ...base, level }, where);
      return E.isRight(result) ? result.right.difficulty : result.left;
    };
    expect(difficulty(5n)).toBe(5);
    expect(difficulty(2)).toBe(2);
    expect(difficulty('Level 3')).toBe(3);
    expect(difficulty(' 4 ')).toBe(4);
    // Absent, null (Parquet) and MATH's explicit "Level ?" leave the difficulty unset.
    expect(difficulty(null)).toBeUndefined();
    expect(difficulty('Level ?')).toBeUndefined();
    const unrated = importMath(base, where);
    expect(E.isRight(unrated) && Object.keys(unrated.right)).toEqual([
      'id',
      'question',
      'answer',
      'domain',
      'family',
    ]);
    // Anything else is a located error on `level`, its value shown (bigints included).
    for (const [level, shown] of [
      [0n, '0'],
      [2n ** 60n, '1152921504606846976'],
      ['hard', '"hard"'],
      [1.5, '1.5'],
      [-1, '-1'],
    ] as const) {
      expect(importMath({ ...base, level }, where)).toMatchObject({
        left: { line: 3, field: 'level', message: expect.stringContaining(`got ${shown}`) },
      });
    }
  });

  it('treats a null solution (Parquet) as absent and uses the answer field', () => {
    expect(importMath({ problem: 'p', solution: null, answer: ' 7 ' }, where)).toMatchObject({
      right: { answer: '7' },
    });
  });
});

describe('multiple choice', () => {
  it('accepts an options list with a letter answer', () => {
    const result = importMultipleChoice(
      { question: 'Capital of France?', options: ['Rome', 'Paris', 'Oslo'], answer: '(b)' },
      where,
    );
    expect(result).toMatchObject({
      right: {
        question: 'Capital of France?\nA. Rome\nB. Paris\nC. Oslo',
        answer: 'B',
        choices: ['Rome', 'Paris', 'Oslo'],
        domain: 'non-math',
        family: 'mc',
      },
    });
  });

  it('accepts A-D fields with a 0-based index or the option text, domain configurable', () => {
    const fields = { question: 'Pick', A: 'one', B: 'two', C: 'three', D: 'four' };
    expect(importMultipleChoice({ ...fields, answer: 3 }, where, { domain: 'math' })).toMatchObject(
      {
        right: { answer: 'D', choices: ['one', 'two', 'three', 'four'], domain: 'math' },
      },
    );
    expect(importMultipleChoice({ ...fields, answer: 'three' }, where)).toMatchObject({
      right: { answer: 'C' },
    });
  });

  it('rejects answers that name no option, and missing options', () => {
    expect(
      importMultipleChoice({ question: 'q', options: ['a', 'b'], answer: 'E' }, where),
    ).toMatchObject({
      left: { field: 'answer', message: expect.stringContaining('names no option') },
    });
    expect(importMultipleChoice({ question: 'q', answer: 'A' }, where)).toMatchObject({
      left: { field: 'options' },
    });
  });

  it('accepts bigint indices (Parquet INT64) and shows bigints in errors without throwing', () => {
    const mmlu = { question: 'q', choices: ['w', 'x', 'y', 'z'] };
    expect(importMultipleChoice({ ...mmlu, answer: 2n }, where)).toMatchObject({
      right: { answer: 'C' },
    });
    expect(importMultipleChoice({ ...mmlu, label: 0n }, where)).toMatchObject({
      right: { answer: 'A' },
    });
    expect(importMultipleChoice({ ...mmlu, answer: 7n }, where)).toEqual(
      E.left({
        file: 'src.jsonl',
        line: 3,
        field: 'answer',
        message: "7 names no option; use a letter A..D, an index 0..3 or an option's text",
      }),
    );
    // Beyond the safe-integer range there is no exact index: an error, not a rounded index.
    expect(importMultipleChoice({ ...mmlu, answer: 2n ** 64n + 1n }, where)).toMatchObject({
      left: { field: 'answer', message: expect.stringContaining('18446744073709551617 names') },
    });
    expect(importMultipleChoice({ ...mmlu, answer: { k: 1n } }, where)).toMatchObject({
      left: { field: 'answer', message: expect.stringContaining('{"k":"1"} names no option') },
    });
    expect(
      importMultipleChoice({ question: 'q', choices: [1n, 2n], answer: 1n, id: 9n }, where),
    ).toMatchObject({ right: { id: 'mc-9', choices: ['1', '2'], answer: 'B' } });
    expect(importMultipleChoice({ question: 'q', choices: ['a', 1n, {}] }, where)).toMatchObject({
      left: { field: 'choices[2]', message: 'expected a string, got {}' },
    });
  });

  it('stops lettered options at a null column (Parquet rows with fewer options)', () => {
    expect(
      importMultipleChoice({ question: 'q', A: 'x', B: 'y', C: null, D: null, answer: 'B' }, where),
    ).toMatchObject({ right: { choices: ['x', 'y'], answer: 'B' } });
  });
});

describe('multiple choice, ARC style (choices: { text, label }, answerKey)', () => {
  const arc = (label: unknown[], answerKey: unknown) => ({
    id: 'Mercury_7175875',
    question: 'Which is a gas?',
    choices: { text: ['ice', 'steam', 'rock', 'wood'], label },
    answerKey,
  });

  it('maps answerKey through choices.label, letters or numeric labels', () => {
    expect(importMultipleChoice(arc(['A', 'B', 'C', 'D'], 'B'), where)).toEqual(
      E.right({
        id: 'Mercury_7175875',
        question: 'Which is a gas?\nA. ice\nB. steam\nC. rock\nD. wood',
        answer: 'B',
        domain: 'non-math',
        family: 'mc',
        choices: ['ice', 'steam', 'rock', 'wood'],
      }),
    );
    // Numeric labels: "2" is the second option, not index 2 and not the text "2".
    expect(importMultipleChoice(arc(['1', '2', '3', '4'], '2'), where)).toMatchObject({
      right: { answer: 'B' },
    });
    expect(importMultipleChoice(arc(['1', '2', '3', '4'], 4n), where)).toMatchObject({
      right: { answer: 'D' },
    });
    // A letter still names its option when the labels are numeric.
    expect(importMultipleChoice(arc(['1', '2', '3', '4'], 'C'), where)).toMatchObject({
      right: { answer: 'C' },
    });
    // Labels need not start at A: they are matched, not assumed to be letters in order.
    expect(importMultipleChoice(arc(['D', 'C', 'B', 'A'], 'A'), where)).toMatchObject({
      right: { answer: 'D' },
    });
  });

  it('maps a string `answer` through the labels too; without labels answerKey is a letter', () => {
    const { answerKey: _key, ...rest } = arc(['1', '2', '3', '4'], undefined);
    expect(importMultipleChoice({ ...rest, answer: '3' }, where)).toMatchObject({
      right: { answer: 'C' },
    });
    const noLabels = { question: 'q', choices: { text: ['x', 'y', 'z'] } };
    expect(importMultipleChoice({ ...noLabels, answerKey: 'c' }, where)).toMatchObject({
      right: { answer: 'C' },
    });
    // Without labels a numeric answerKey has no meaning: an error, never a guessed index.
    expect(importMultipleChoice({ ...noLabels, answerKey: '1' }, where)).toMatchObject({
      left: { field: 'answerKey', message: '"1" names no option; use a letter A..C' },
    });
  });

  it('names the answerKey, the labels and malformed label lists in errors', () => {
    expect(importMultipleChoice(arc(['1', '2', '3', '4'], '5'), where)).toMatchObject({
      left: {
        field: 'answerKey',
        message: '"5" names no option; use a label 1, 2, 3, 4 or a letter A..D',
      },
    });
    expect(importMultipleChoice(arc(['A', 'B', 'C'], 'A'), where)).toMatchObject({
      left: { field: 'choices.label', message: expect.stringContaining('3 labels for 4 options') },
    });
    expect(importMultipleChoice(arc(['A', 'B', 'B', 'C'], 'A'), where)).toMatchObject({
      left: { field: 'choices.label[2]', message: expect.stringContaining('repeats') },
    });
    expect(
      importMultipleChoice(
        { question: 'q', choices: { label: ['A', 'B'] }, answerKey: 'A' },
        where,
      ),
    ).toMatchObject({ left: { field: 'choices.text' } });
  });
});

describe('registry and importDataset', () => {
  it('lists valid formats on an unknown one', () => {
    expect(getImporter('csv')).toEqual(
      E.left('unknown import format "csv"; valid formats: gsm8k, math, mc'),
    );
  });

  it('streams a GSM8K JSONL file through the importer, skipping bad rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'covrl-data-import-'));
    try {
      const path = join(dir, 'gsm8k.jsonl');
      writeFileSync(
        path,
        [
          JSON.stringify({ question: 'A?', answer: 'x\n#### 5' }),
          JSON.stringify({ question: 'B?', answer: 'no final' }),
          JSON.stringify({ question: 'C?', answer: '#### 1,000' }),
        ].join('\n'),
      );
      const rejected: string[] = [];
      const stream = importDataset(path, 'gsm8k', {
        onInvalid: 'skip',
        onReject: (r) => rejected.push(`${r.line}:${r.field}`),
      });
      expect((await collect(stream)).map((e) => e.answer)).toEqual(['5', '1000']);
      expect(rejected).toEqual(['2:answer']);
      expect(stream.counts).toMatchObject({ records: 3, kept: 2, rejected: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('importers on files (JSONL and Parquet with INT64 columns)', () => {
  const inDir = async (body: (d: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'covrl-data-import-files-'));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const mathRows = [
    { problem: 'What is 1+1?', solution: 'So $\\boxed{2}$.', level: 1n, type: 'Prealgebra' },
    {
      problem: 'Simplify.',
      solution: 'We get $\\boxed{\\frac{1}{2}}$.',
      level: 5n,
      type: 'Algebra',
    },
  ];
  const mathExpected = [
    { question: 'What is 1+1?', answer: '2', difficulty: 1, family: 'math', domain: 'math' },
    { question: 'Simplify.', answer: '\\frac{1}{2}', difficulty: 5 },
  ];

  it('MATH: JSONL and Parquet (INT64 level) give the same examples, difficulty kept', () =>
    inDir(async (d) => {
      const jsonl = join(d, 'math.jsonl');
      writeFileSync(
        jsonl,
        mathRows.map((r) => JSON.stringify({ ...r, level: `Level ${r.level}` })).join('\n'),
      );
      const parquet = join(d, 'math.parquet');
      await writeSourceParquet(parquet, mathRows, {
        problem: 'STRING',
        solution: 'STRING',
        level: 'INT64',
        type: 'STRING',
      });
      const fromJsonl = await collect(importDataset(jsonl, 'math'));
      const fromParquet = await collect(importDataset(parquet, 'math'));
      expect(fromParquet).toMatchObject(mathExpected);
      expect(fromParquet).toEqual(fromJsonl);
    }));

  it('mc: MMLU-shaped Parquet (native list choices, INT64 answer) and ARC-shaped Parquet', () =>
    inDir(async (d) => {
      const mmlu = join(d, 'mmlu.parquet');
      await writeSourceParquet(
        mmlu,
        [
          { question: '2+2?', subject: 'math', choices: ['3', '4', '5', '6'], answer: 1n },
          { question: 'Red?', subject: 'misc', choices: ['colour', 'shape'], answer: 0n },
        ],
        { question: 'STRING', subject: 'STRING', choices: 'STRING_LIST', answer: 'INT64' },
      );
      expect(await collect(importDataset(mmlu, 'mc'))).toMatchObject([
        { question: '2+2?\nA. 3\nB. 4\nC. 5\nD. 6', answer: 'B', choices: ['3', '4', '5', '6'] },
        { question: 'Red?\nA. colour\nB. shape', answer: 'A' },
      ]);
      const arc = join(d, 'arc.parquet');
      await writeSourceParquet(
        arc,
        [
          {
            id: 'a1',
            question: 'Which is a gas?',
            choices: { text: ['ice', 'steam', 'rock'], label: ['A', 'B', 'C'] },
            answerKey: 'B',
          },
          {
            id: 'a2',
            question: 'Which melts?',
            choices: { text: ['ice', 'rock', 'glass', 'iron'], label: ['1', '2', '3', '4'] },
            answerKey: '1',
          },
        ],
        {
          id: 'STRING',
          question: 'STRING',
          choices: { text: 'STRING_LIST', label: 'STRING_LIST' },
          answerKey: 'STRING',
        },
      );
      expect(await collect(importDataset(arc, 'mc'))).toMatchObject([
        { id: 'a1', answer: 'B', choices: ['ice', 'steam', 'rock'] },
        { id: 'a2', answer: 'A', choices: ['ice', 'rock', 'glass', 'iron'] },
      ]);
    }));

  it('mc: an ARC JSONL file with numeric labels maps answerKey through the labels', () =>
    inDir(async (d) => {
      const path = join(d, 'arc.jsonl');
      writeFileSync(
        path,
        `${JSON.stringify({
          id: 'x',
          question: 'Pick two.',
          choices: { text: ['one', 'two', 'three'], label: ['1', '2', '3'] },
          answerKey: '2',
        })}\n`,
      );
      expect(await collect(importDataset(path, 'mc'))).toMatchObject([
        { id: 'x', answer: 'B', question: 'Pick two.\nA. one\nB. two\nC. three' },
      ]);
    }));

  it('Parquet skip mode writes every rejected row (row, field, raw with bigints) to rejectsPath', () =>
    inDir(async (d) => {
      const path = join(d, 'mmlu.parquet');
      const rejects = join(d, 'out', 'rejects.jsonl');
      await writeSourceParquet(
        path,
        [
          { question: 'ok?', choices: ['a', 'b'], answer: 1n },
          { question: 'bad index', choices: ['a', 'b'], answer: 9n },
          { question: null, choices: ['a', 'b'], answer: 0n },
          { question: 'ok too', choices: ['a', 'b', 'c'], answer: 2n },
        ],
        { question: 'STRING', choices: 'STRING_LIST', answer: 'INT64' },
        { rowGroupSize: 2 },
      );
      await expect(collect(importDataset(path, 'mc'))).rejects.toThrow(
        `${path}:row 1: answer: 9 names no option; use a letter A..B, an index 0..1 or an option's text`,
      );
      const stream = importDataset(path, 'mc', { onInvalid: 'skip', rejectsPath: rejects });
      expect((await collect(stream)).map((e) => e.answer)).toEqual(['B', 'C']);
      expect(stream.counts).toMatchObject({ records: 4, kept: 2, rejected: 2 });
      const lines = readFileSync(rejects, 'utf8').trim().split('\n');
      expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
        {
          file: path,
          row: 1,
          field: 'answer',
          message: "9 names no option; use a letter A..B, an index 0..1 or an option's text",
          raw: '{"question":"bad index","choices":["a","b"],"answer":"9"}',
        },
        {
          file: path,
          row: 2,
          field: 'question',
          message: 'missing; a multiple-choice record needs a "question" string field',
          raw: '{"question":null,"choices":["a","b"],"answer":"0"}',
        },
      ]);
    }));
});
