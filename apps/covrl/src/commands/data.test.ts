import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '@covrl/data';
import { readJsonl, readParquet } from '@covrl/data/node';
import { writeSourceParquet } from '@covrl/data/testing';
import { CliError, registerDataCommands } from './data.js';

let dir: string;
let out: string[];
let err: string[];

function program(): Command {
  const p = new Command();
  p.exitOverride();
  p.configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerDataCommands(p, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return p;
}

const run = (...args: string[]) => program().parseAsync(['node', 'covrl', 'data', ...args]);

const record = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    question: 'What is 1+1?',
    answer: '2',
    domain: 'math',
    family: 'addition',
    ...extra,
  });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'covrl-cli-data-'));
  out = [];
  err = [];
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
});

describe('covrl data validate', () => {
  it('prints counts for a valid file', async () => {
    const file = join(dir, 'ok.jsonl');
    writeFileSync(file, `${record('a')}\n${record('b')}\n`);
    await run('validate', file);
    expect(out).toEqual([`${file}: 2 records, 2 valid, 0 invalid`]);
    expect(process.exitCode).toBeUndefined();
  });

  it('fails with file:line: field: message for every bad line', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      `${record('a')}\n${record('b', { domain: 'maths' })}\n${record('c', { answer: 2 })}\n`,
    );
    const error = await run('validate', file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain(
      `first: ${file}:2: domain: expected "math" or "non-math", got "maths"`,
    );
    expect(err).toEqual([
      `${file}:2: domain: expected "math" or "non-math", got "maths"`,
      `${file}:3: answer: expected a string, got the number 2 (write numbers as strings, e.g. "2")`,
    ]);
    expect(out).toEqual([`${file}: 3 records, 1 valid, 2 invalid`]);
    expect(process.exitCode).toBe(1);
  });

  it('with --skip exits 0 and writes the rejects file', async () => {
    const file = join(dir, 'bad.jsonl');
    const rejects = join(dir, 'rejects.jsonl');
    writeFileSync(file, `${record('a')}\n{oops\n`);
    await run('validate', file, '--skip', '--rejects', rejects);
    expect(process.exitCode).toBeUndefined();
    const lines = readFileSync(rejects, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      file,
      line: 2,
      field: '<line>',
      raw: '{oops',
    });
  });

  it('reports unsupported extensions and missing files as errors', async () => {
    await expect(run('validate', join(dir, 'x.csv'))).rejects.toThrow(
      /unsupported extension "\.csv"/,
    );
    await expect(run('validate', join(dir, 'missing.jsonl'))).rejects.toThrow(/no such file/);
  });
});

describe('covrl data import', () => {
  it('converts GSM8K and refuses to write when a record is invalid (without --skip)', async () => {
    const input = join(dir, 'gsm8k.jsonl');
    const output = join(dir, 'out', 'gsm8k.covrl.jsonl');
    writeFileSync(
      input,
      `${JSON.stringify({ question: 'A?', answer: 'so\n#### 1,234' })}\n${JSON.stringify({ question: 'B?', answer: '5' })}\n`,
    );
    await expect(run('import', '--format', 'gsm8k', input, '--out', output)).rejects.toThrow(
      /2: answer: no final answer/,
    );
    expect(() => readdirSync(join(dir, 'out'))).toThrow();
    await run(
      'import',
      '--format',
      'gsm8k',
      input,
      '--out',
      output,
      '--skip',
      '--domain',
      'non-math',
    );
    const examples = await collect(readJsonl(output));
    expect(examples).toMatchObject([
      { question: 'A?', answer: '1234', domain: 'non-math', family: 'gsm8k' },
    ]);
    expect(out.at(-1)).toBe(`${input}: 2 records, 1 valid, 1 invalid; wrote 1 to ${output}`);
  });

  it('imports a multiple-choice Parquet file with an INT64 answer column, locating bad rows', async () => {
    const input = join(dir, 'mmlu.parquet');
    const output = join(dir, 'mmlu.covrl.jsonl');
    const rejects = join(dir, 'mmlu.rejects.jsonl');
    await writeSourceParquet(
      input,
      [
        { question: '2+2?', subject: 'math', choices: ['3', '4', '5'], answer: 1n },
        { question: 'Sky?', subject: 'misc', choices: ['blue', 'green'], answer: 5n },
        { question: 'Grass?', subject: 'misc', choices: ['blue', 'green'], answer: 1n },
      ],
      { question: 'STRING', subject: 'STRING', choices: 'STRING_LIST', answer: 'INT64' },
    );
    // Without --skip: a located error (file, row, field), not "Do not know how to serialize a BigInt".
    const error = await run('import', '--format', 'mc', input, '--out', output).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CliError);
    const located = `${input}:row 1: answer: 5 names no option; use a letter A..B, an index 0..1 or an option's text`;
    expect((error as Error).message).toContain(`first: ${located}`);
    expect(err).toEqual([located]);
    expect(process.exitCode).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['mmlu.parquet']);
    process.exitCode = undefined;

    await run('import', '--format', 'mc', input, '--out', output, '--skip', '--rejects', rejects);
    expect(process.exitCode).toBeUndefined();
    expect(await collect(readJsonl(output))).toMatchObject([
      { question: '2+2?\nA. 3\nB. 4\nC. 5', answer: 'B', domain: 'non-math', family: 'mc' },
      { question: 'Grass?\nA. blue\nB. green', answer: 'B' },
    ]);
    const lines = readFileSync(rejects, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        file: input,
        row: 1,
        field: 'answer',
        message: "5 names no option; use a letter A..B, an index 0..1 or an option's text",
        raw: '{"question":"Sky?","subject":"misc","choices":["blue","green"],"answer":"5"}',
      },
    ]);
    expect(out.at(-1)).toBe(`${input}: 3 records, 2 valid, 1 invalid; wrote 2 to ${output}`);
  });

  it('imports a MATH Parquet file with an INT64 level column to Parquet, keeping the difficulty', async () => {
    const input = join(dir, 'math.parquet');
    const output = join(dir, 'math.covrl.parquet');
    await writeSourceParquet(
      input,
      [
        { problem: 'Add 1 and 1.', solution: 'So $\\boxed{2}$.', level: 2n, type: 'Algebra' },
        { problem: 'Halve 1.', solution: '$\\boxed{\\frac{1}{2}}$', level: 4n, type: 'Algebra' },
      ],
      { problem: 'STRING', solution: 'STRING', level: 'INT64', type: 'STRING' },
    );
    await run('import', '--format', 'math', input, '--out', output);
    expect(await collect(readParquet(output))).toMatchObject([
      { question: 'Add 1 and 1.', answer: '2', difficulty: 2, domain: 'math', family: 'math' },
      { question: 'Halve 1.', answer: '\\frac{1}{2}', difficulty: 4 },
    ]);
    expect(out.at(-1)).toBe(`${input}: 2 records, 2 valid, 0 invalid; wrote 2 to ${output}`);
  });

  it('rejects an unknown format', async () => {
    await expect(run('import', '--format', 'csv', 'x', '--out', 'y')).rejects.toThrow(
      /Allowed choices are gsm8k, math, mc/,
    );
  });
});

describe('covrl data generate', () => {
  it('writes one JSONL per family and a manifest', async () => {
    const target = join(dir, 'suite');
    await run(
      'generate',
      '--n',
      '5',
      '--seed',
      '3',
      '--out',
      target,
      '--families',
      'addition,ordering',
      '--difficulty',
      '1',
    );
    expect(readdirSync(target).sort()).toEqual([
      'addition.jsonl',
      'manifest.json',
      'ordering.jsonl',
    ]);
    const manifest = JSON.parse(readFileSync(join(target, 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({
      seed: 3,
      difficulty: 1,
      perFamily: 5,
      families: {
        addition: { file: 'addition.jsonl', count: 5, domain: 'math' },
        ordering: { count: 5, domain: 'non-math' },
      },
    });
    const examples = await collect(readJsonl(join(target, 'addition.jsonl')));
    expect(examples.map((e) => e.id)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `addition-d1-s3-00000${i}`),
    );
  });

  it('names the valid families on a typo', async () => {
    await expect(
      run('generate', '--n', '1', '--seed', '0', '--out', dir, '--families', 'adition'),
    ).rejects.toThrow(/unknown family "adition"; valid families: addition, linear-equation/);
  });
});
