import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { importDataset } from '../load.js';
import { collect } from '../stream.js';
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
