import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readParquet, writeParquet } from './parquet.js';
import type { Example } from './schema.js';
import type { Rejection } from './stream.js';
import { collect } from './stream.js';
import { writeSourceParquet } from './testing/index.js';

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

  it('reads one row group at a time: later groups are not decoded until reached', async () => {
    const path = join(dir, 'lazy.parquet');
    async function* source(): AsyncGenerator<Example> {
      for (let i = 0; i < 300; i++) yield example(i);
    }
    await writeParquet(path, source(), { rowGroupSize: 100 });
    // Overwrite every column chunk of row groups 1 and 2 with garbage; the footer stays intact.
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([100, 100, 100]);
    const fd = openSync(path, 'r+');
    try {
      for (const group of metadata.row_groups.slice(1)) {
        for (const { meta_data: m } of group.columns) {
          if (m === undefined) throw new Error('column chunk without metadata');
          const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
          const size = Number(m.total_compressed_size);
          writeSync(fd, Buffer.alloc(size, 0xff), 0, size, start);
        }
      }
    } finally {
      closeSync(fd);
    }
    // The whole first group streams and the reader stops: groups 1 and 2 were never decoded.
    const stream = readParquet(path);
    const firstGroup: Example[] = [];
    for await (const e of stream) {
      firstGroup.push(e);
      if (firstGroup.length === 100) break;
    }
    expect(firstGroup).toEqual(Array.from({ length: 100 }, (_, i) => example(i)));
    expect(stream.counts.records).toBe(100);
    // Reading on reaches group 1 only after all of group 0 was yielded, and fails there.
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of readParquet(path)) seen.push(e.id);
      })(),
    ).rejects.toThrow();
    expect(seen).toHaveLength(100);
  });

  it('skip mode writes every rejected row with its reason to rejectsPath', async () => {
    const path = join(dir, 'mixed.parquet');
    const rejects = join(dir, 'rejects', 'mixed.rejects.jsonl');
    await writeSourceParquet(
      path,
      [
        { id: 'ok', question: 'q', answer: 'a', domain: 'math', family: 'f', difficulty: 2n },
        { id: 'd', question: 'q', answer: 'a', domain: 'maths', family: 'f' },
        { id: 'big', question: 'q', answer: 'a', domain: 'math', family: 'f', difficulty: 0n },
        { id: 'ok2', question: 'q', answer: 'b', domain: 'non-math', family: 'f' },
      ],
      {
        id: 'STRING',
        question: 'STRING',
        answer: 'STRING',
        domain: 'STRING',
        family: 'STRING',
        difficulty: 'INT64',
      },
      { rowGroupSize: 3 },
    );
    const stream = readParquet(path, { onInvalid: 'skip', rejectsPath: rejects });
    expect((await collect(stream)).map((e) => [e.id, e.difficulty])).toEqual([
      ['ok', 2],
      ['ok2', undefined],
    ]);
    expect(stream.counts).toEqual({ records: 4, kept: 2, rejected: 2, blank: 0 });
    const lines = readFileSync(rejects, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        file: path,
        row: 1,
        field: 'domain',
        message: 'expected "math" or "non-math", got "maths"',
        raw: '{"id":"d","question":"q","answer":"a","domain":"maths","family":"f","difficulty":null}',
      },
      {
        file: path,
        row: 2,
        field: 'difficulty',
        message:
          'expected a positive integer, got the integer 0; use 1, 2, 3 ... or drop the field',
        raw: '{"id":"big","question":"q","answer":"a","domain":"math","family":"f","difficulty":"0"}',
      },
    ]);
    // Only the data file and the rejects file: both written atomically, no temporary left over.
    expect(readdirSync(dir).sort()).toEqual(['mixed.parquet', 'rejects']);
    expect(readdirSync(join(dir, 'rejects'))).toEqual(['mixed.rejects.jsonl']);
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
