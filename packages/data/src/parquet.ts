/**
 * Parquet: a row-group-streaming reader over hyparquet (one row group in memory at a time) and an
 * atomic writer over hyparquet-writer (rows pulled one row group at a time).
 */
import { open, rename, rm } from 'node:fs/promises';
import * as E from 'fp-ts/lib/Either.js';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';
import { tempPathFor } from './atomic.js';
import { dataError } from './errors.js';
import type { Example } from './schema.js';
import { decodeExample } from './schema.js';
import type { ExampleStream, ReadOptions, RecordDecoder } from './stream.js';
import { emptyCounts, exampleStream } from './stream.js';
import { RejectSink } from './reject-sink.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Stand-in hyparquet returns for a string column value whose bytes are not valid UTF-8. */
class InvalidUtf8 {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false });

function stringFromBytes(bytes: Uint8Array | undefined): unknown {
  if (bytes === undefined) return undefined;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return new InvalidUtf8(lossyUtf8.decode(bytes));
  }
}

/** The first field (`name` or `name[i]`) holding an {@link InvalidUtf8} value, if any. */
function invalidUtf8Field(row: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof InvalidUtf8) return key;
    if (Array.isArray(value)) {
      const i = value.findIndex((v) => v instanceof InvalidUtf8);
      if (i >= 0) return `${key}[${i}]`;
    }
  }
  return undefined;
}

function rowText(row: Record<string, unknown>): string {
  return JSON.stringify(row, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/**
 * Stream records from a Parquet file through `decode`, one row group at a time
 * (`parquetReadObjects` with `rowStart`/`rowEnd` set to each group's bounds). String columns are
 * decoded with a strict UTF-8 decoder; a value with invalid bytes rejects its row naming the field.
 * Locations are `{ file, row }` with the 0-based row index of the file.
 */
export function readParquetWith(
  path: string,
  decode: RecordDecoder,
  options: ReadOptions = {},
): ExampleStream {
  const counts = emptyCounts();
  return exampleStream(counts, async function* () {
    Object.assign(counts, emptyCounts());
    const sink = new RejectSink(options, counts);
    try {
      const file = await asyncBufferFromFile(path);
      const metadata = await parquetMetadataAsync(file);
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        const rowEnd = rowStart + Number(group.num_rows);
        const rows = await parquetReadObjects({
          file,
          metadata,
          rowStart,
          rowEnd,
          rowFormat: 'object',
          parsers: { stringFromBytes },
        });
        for (const [offset, row] of rows.entries()) {
          counts.records += 1;
          const where = { file: path, row: rowStart + offset };
          const badField = invalidUtf8Field(row);
          if (badField !== undefined) {
            await sink.reject(
              dataError(
                where,
                badField,
                'invalid UTF-8 bytes; rewrite the column as UTF-8 strings',
              ),
              rowText(row),
            );
            continue;
          }
          const decoded = decode(row, where);
          if (E.isLeft(decoded)) {
            await sink.reject(decoded.left, rowText(row));
            continue;
          }
          counts.kept += 1;
          yield decoded.right;
        }
        rowStart = rowEnd;
      }
    } finally {
      await sink.close();
    }
  });
}

/**
 * Stream {@link Example}s from a Parquet file with columns named like the record fields
 * (`choices` may be a list of strings or a JSON column). See {@link readParquetWith}.
 */
export function readParquet(path: string, options: ReadOptions = {}): ExampleStream {
  return readParquetWith(path, decodeExample, options);
}

/** Rows per row group written by {@link writeParquet}: bounds reader and writer memory. */
export const PARQUET_ROW_GROUP_SIZE = 4096;

/**
 * Write examples as Parquet atomically (temporary file, fsync, rename). Columns: `id`, `question`,
 * `answer`, `domain`, `family` (STRING), `difficulty` (INT32, null when absent), `choices` (JSON,
 * null when absent). Rows are pulled one row group at a time, so an async source is written in
 * memory bounded by {@link PARQUET_ROW_GROUP_SIZE}. Returns the number of rows written.
 */
export async function writeParquet(
  path: string,
  examples: Iterable<Example> | AsyncIterable<Example>,
  options: { rowGroupSize?: number } = {},
): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  let count = 0;
  async function* rows(): AsyncGenerator<Record<string, unknown>> {
    for await (const example of examples) {
      count += 1;
      yield {
        id: example.id,
        question: example.question,
        answer: example.answer,
        domain: example.domain,
        family: example.family,
        difficulty: example.difficulty ?? null,
        choices: example.choices === undefined ? null : [...example.choices],
      };
    }
  }
  try {
    await parquetWriteRows({
      writer: fileWriter(tmp),
      rows: rows(),
      rowGroupSize: options.rowGroupSize ?? PARQUET_ROW_GROUP_SIZE,
      columns: [
        { name: 'id', type: 'STRING', nullable: false },
        { name: 'question', type: 'STRING', nullable: false },
        { name: 'answer', type: 'STRING', nullable: false },
        { name: 'domain', type: 'STRING', nullable: false },
        { name: 'family', type: 'STRING', nullable: false },
        { name: 'difficulty', type: 'INT32', nullable: true },
        { name: 'choices', type: 'JSON', nullable: true },
      ],
    });
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return count;
}
