import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readParquet, writeParquet } from './parquet.js';
import type { Example } from './schema.js';
import type { Rejection } from './stream.js';
import { collect } from './stream.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'covrl-data-parquet-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const example = (i: number): Example => ({
  id: `p${i}`,
  question: `Reverse the letters of wörd${i}?`,
  answer: `a${i}`,
  domain: 'non-math',
  family: 'string-ops',
  ...(i % 2 === 0 ? { difficulty: 1 + (i % 3) } : {}),
  ...(i % 5 === 0 ? { choices: ['x', 'y', `z${i}`] } : {}),
});

describe('writeParquet / readParquet', () => {
  it('round-trips examples across several row groups, atomically', async () => {
    const path = join(dir, 'set.parquet');
    const examples = Array.from({ length: 23 }, (_, i) => example(i));
    expect(await writeParquet(path, examples, { rowGroupSize: 5 })).toBe(23);
    expect(readdirSync(dir)).toEqual(['set.parquet']);
    const stream = readParquet(path);
    expect(await collect(stream)).toEqual(examples);
    expect(stream.counts).toEqual({ records: 23, kept: 23, rejected: 0, blank: 0 });
  });

  it('reads one row group at a time', async () => {
    const path = join(dir, 'lazy.parquet');
    async function* source(): AsyncGenerator<Example> {
      for (let i = 0; i < 1000; i++) yield example(i);
    }
    await writeParquet(path, source(), { rowGroupSize: 100 });
    const stream = readParquet(path);
    for await (const e of stream) {
      expect(e.id).toBe('p0');
      break;
    }
    expect(stream.counts.records).toBe(1);
  });

  it('locates bad rows (0-based) and bad UTF-8 by field; skip mode records them', async () => {
    const path = join(dir, 'bad.parquet');
    await parquetWriteRows({
      writer: fileWriter(path),
      rows: [
        { id: 'ok', question: 'q', answer: 'a', domain: 'math', family: 'f' },
        { id: 'bad', question: 'q', answer: 'a', domain: 'maths', family: 'f' },
        {
          id: 'u',
          question: new Uint8Array([0x71, 0xff]),
          answer: 'a',
          domain: 'math',
          family: 'f',
        },
      ],
      columns: [
        { name: 'id', type: 'STRING' },
        { name: 'question', type: 'BYTE_ARRAY' },
        { name: 'answer', type: 'STRING' },
        { name: 'domain', type: 'STRING' },
        { name: 'family', type: 'STRING' },
      ],
    });
    await expect(collect(readParquet(path))).rejects.toThrow(
      `${path}:row 1: domain: expected "math" or "non-math", got "maths"`,
    );
    const rejected: Rejection[] = [];
    const stream = readParquet(path, { onInvalid: 'skip', onReject: (r) => rejected.push(r) });
    expect((await collect(stream)).map((e) => e.id)).toEqual(['ok']);
    expect(stream.counts).toMatchObject({ records: 3, kept: 1, rejected: 2 });
    expect(rejected.map((r) => [r.row, r.field])).toEqual([
      [1, 'domain'],
      [2, 'question'],
    ]);
    expect(rejected[1]?.message).toContain('invalid UTF-8');
  });
});
