/** Format dispatch by file extension, for examples and for importer sources. */
import { extname } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { DataFileError } from './errors.js';
import type { ImportFormat, ImportOptions } from './importers/index.js';
import { getImporter } from './importers/index.js';
import { readJsonlWith } from './jsonl.js';
import { readParquetWith } from './parquet.js';
import { decodeExample } from './schema.js';
import type { ExampleStream, ReadOptions, RecordDecoder } from './stream.js';

/** Extensions read as JSON Lines. */
export const JSONL_EXTENSIONS: readonly string[] = ['.jsonl', '.json', '.ndjson'];
/** Extensions read as Parquet. */
export const PARQUET_EXTENSIONS: readonly string[] = ['.parquet'];

/**
 * Stream records from `path` through `decode`, choosing the reader by extension: `.jsonl`,
 * `.json`, `.ndjson` (one JSON object per line) or `.parquet`. Throws a `DataFileError` at once
 * for any other extension, naming the supported ones.
 */
export function loadRecords(
  path: string,
  decode: RecordDecoder,
  options: ReadOptions = {},
): ExampleStream {
  const ext = extname(path).toLowerCase();
  if (JSONL_EXTENSIONS.includes(ext)) return readJsonlWith(path, decode, options);
  if (PARQUET_EXTENSIONS.includes(ext)) return readParquetWith(path, decode, options);
  throw new DataFileError({
    file: path,
    field: '<file>',
    message: `unsupported extension "${ext || '(none)'}"; use ${[...JSONL_EXTENSIONS, ...PARQUET_EXTENSIONS].join(', ')} (JSON Lines: one object per line)`,
  });
}

/** Stream validated `Example`s (the record of `@covrl/data`) from a `.jsonl`/`.json`/`.ndjson` or `.parquet` file. */
export function loadDataset(path: string, options: ReadOptions = {}): ExampleStream {
  return loadRecords(path, decodeExample, options);
}

/**
 * Stream examples imported from a source file in `format` (`gsm8k`, `math`, `mc`), any supported
 * extension. Throws for an unknown format (listing the valid ones).
 */
export function importDataset(
  path: string,
  format: ImportFormat | string,
  options: ReadOptions & ImportOptions = {},
): ExampleStream {
  const importer = getImporter(format);
  if (E.isLeft(importer)) throw new Error(`importDataset: ${importer.left}`);
  const importOptions: ImportOptions = {
    ...(options.domain === undefined ? {} : { domain: options.domain }),
    ...(options.family === undefined ? {} : { family: options.family }),
  };
  return loadRecords(path, (raw, where) => importer.right(raw, where, importOptions), options);
}
