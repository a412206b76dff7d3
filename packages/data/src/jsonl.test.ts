import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataFileError } from './errors.js';
import { readJsonl, writeJsonl } from './jsonl.js';
import type { Example } from './schema.js';
import type { Rejection } from './stream.js';
import { collect } from './stream.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'covrl-data-jsonl-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const example = (i: number): Example => ({
  id: `e${i}`,
  question: `What is ${i}+1? é漢`,
  answer: String(i + 1),
  domain: i % 2 === 0 ? 'math' : 'non-math',
  family: 'addition',
  ...(i % 3 === 0 ? { difficulty: 2 } : {}),
  ...(i % 4 === 0 ? { choices: ['a', 'b'] } : {}),
});

describe('writeJsonl / readJsonl', () => {
  it('round-trips examples and leaves no temporary file', async () => {
    const path = join(dir, 'out', 'set.jsonl');
    const examples = Array.from({ length: 25 }, (_, i) => example(i));
    expect(await writeJsonl(path, examples)).toBe(25);
    const stream = readJsonl(path);
    expect(await collect(stream)).toEqual(examples);
    expect(stream.counts).toEqual({ records: 25, kept: 25, rejected: 0, blank: 0 });
    expect(readdirSync(join(dir, 'out'))).toEqual(['set.jsonl']);
  });

  it('streams from an async source and yields lazily (one line at a time)', async () => {
    const path = join(dir, 'big.jsonl');
    async function* source(): AsyncGenerator<Example> {
      for (let i = 0; i < 20_000; i++) yield example(i);
    }
    expect(await writeJsonl(path, source())).toBe(20_000);
    const stream = readJsonl(path);
    let seen = 0;
    for await (const e of stream) {
      expect(e.id).toBe('e0');
      seen += 1;
      break;
    }
    expect(seen).toBe(1);
    // Only the first record was parsed when the consumer stopped.
    expect(stream.counts.records).toBe(1);
    // Read to the end: lines (with multi-byte characters) span many 64 KiB chunk boundaries.
    let count = 0;
    for await (const e of stream) {
      expect(e).toEqual(example(count));
      count += 1;
    }
    expect(count).toBe(20_000);
    expect(stream.counts).toEqual({ records: 20_000, kept: 20_000, rejected: 0, blank: 0 });
  });

  it('accepts CRLF, a BOM and blank lines (counted)', async () => {
    const path = join(dir, 'crlf.jsonl');
    const line = JSON.stringify(example(1));
    writeFileSync(path, `\uFEFF${line}\r\n\r\n   \n${line}`);
    const stream = readJsonl(path);
    expect(await collect(stream)).toHaveLength(2);
    expect(stream.counts).toEqual({ records: 2, kept: 2, rejected: 0, blank: 2 });
  });
});

describe('invalid lines', () => {
  function writeMixed(path: string): void {
    const ok = JSON.stringify(example(1));
    const badUtf8 = Buffer.concat([
      Buffer.from('{"id":"x","question":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    writeFileSync(
      path,
      Buffer.concat([
        Buffer.from(`${ok}\n`),
        badUtf8,
        Buffer.from('\n{"id":"y","question":"q","answer":"1","domain":"math"}\n{not json\n'),
        Buffer.from(`${ok}\n`),
      ]),
    );
  }

  it('fail mode throws at the first bad line with file:line and field', async () => {
    const path = join(dir, 'mixed.jsonl');
    writeMixed(path);
    const seen: Example[] = [];
    const error = await (async () => {
      try {
        for await (const e of readJsonl(path)) seen.push(e);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(seen).toHaveLength(1); // the good first line arrived before the failure
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as DataFileError).message).toBe(
      `${path}:2: <line>: invalid UTF-8 bytes; re-encode the file as UTF-8 (e.g. \`iconv -f latin1 -t utf-8\`)`,
    );
    expect((error as DataFileError).dataError).toMatchObject({ line: 2, field: '<line>' });
  });

  it('skip mode keeps going, counts and writes every rejection with its reason', async () => {
    const path = join(dir, 'mixed.jsonl');
    const rejectsPath = join(dir, 'rejects', 'mixed.rejects.jsonl');
    writeMixed(path);
    const reported: Rejection[] = [];
    const stream = readJsonl(path, {
      onInvalid: 'skip',
      rejectsPath,
      onReject: (r) => reported.push(r),
    });
    expect((await collect(stream)).map((e) => e.id)).toEqual(['e1', 'e1']);
    expect(stream.counts).toEqual({ records: 5, kept: 2, rejected: 3, blank: 0 });
    const rejects = readFileSync(rejectsPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rejection);
    expect(rejects).toEqual(reported);
    expect(rejects.map((r) => [r.line, r.field])).toEqual([
      [2, '<line>'],
      [3, 'family'],
      [4, '<line>'],
    ]);
    expect(rejects[0]?.raw).toBe('{"id":"x","question":"caf\uFFFD"}');
    expect(rejects[1]?.message).toContain('missing required field');
    expect(rejects[2]?.message).toMatch(/^invalid JSON/);
    expect(rejects.every((r) => r.file === path)).toBe(true);
  });

  it('skip mode writes an empty rejects file when nothing was rejected', async () => {
    const path = join(dir, 'ok.jsonl');
    await writeJsonl(path, [example(1)]);
    const rejectsPath = join(dir, 'ok.rejects.jsonl');
    await collect(readJsonl(path, { onInvalid: 'skip', rejectsPath }));
    expect(readFileSync(rejectsPath, 'utf8')).toBe('');
  });
});
