import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataFileError } from './errors.js';
import { writeJsonl } from './jsonl.js';
import { loadDataset } from './load.js';
import { writeParquet } from './parquet.js';
import { collect } from './stream.js';
import { TINY_EXAMPLES } from './testing/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'covrl-data-load-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadDataset', () => {
  it('picks the reader by extension', async () => {
    await writeJsonl(join(dir, 'a.jsonl'), TINY_EXAMPLES);
    await writeJsonl(join(dir, 'a.json'), TINY_EXAMPLES);
    await writeParquet(join(dir, 'a.parquet'), TINY_EXAMPLES);
    for (const name of ['a.jsonl', 'a.json', 'a.parquet']) {
      expect(await collect(loadDataset(join(dir, name)))).toEqual(TINY_EXAMPLES);
    }
  });

  it('rejects other extensions with the supported list', () => {
    writeFileSync(join(dir, 'a.csv'), 'id,question\n');
    expect(() => loadDataset(join(dir, 'a.csv'))).toThrow(DataFileError);
    expect(() => loadDataset(join(dir, 'a.csv'))).toThrow(
      /unsupported extension "\.csv"; use \.jsonl, \.json, \.ndjson, \.parquet/,
    );
  });

  it('explains a JSON array file', async () => {
    writeFileSync(join(dir, 'arr.json'), JSON.stringify(TINY_EXAMPLES, null, 2));
    await expect(collect(loadDataset(join(dir, 'arr.json')))).rejects.toThrow(
      /arr\.json:1: <line>: invalid JSON .*one JSON object/,
    );
  });
});
