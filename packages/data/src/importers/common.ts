/** Helpers shared by the importers: field access with located errors, ids. */
import * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from '../errors.js';
import { dataError } from '../errors.js';
import { hash64Hex } from '../hash.js';
import type { Domain, Example } from '../schema.js';

/** Options every importer takes. */
export interface ImportOptions {
  /** Domain written on every record (default: `math` for gsm8k/math, `non-math` for mc). */
  readonly domain?: Domain;
  /** Family written on every record (default: the format name). */
  readonly family?: string;
}

/** An importer maps one raw source record to an {@link Example} or a located error. */
export type Importer = (
  raw: unknown,
  where: RecordLocation,
  options?: ImportOptions,
) => E.Either<DataError, Example>;

/** The raw record as an object, or a located error. */
export function asObject(
  raw: unknown,
  where: RecordLocation,
  format: string,
): E.Either<DataError, Record<string, unknown>> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
    ? E.right(raw as Record<string, unknown>)
    : E.left(dataError(where, '<record>', `expected a ${format} JSON object`));
}

/** A required non-empty string field, or a located error saying what the format expects. */
export function stringField(
  record: Record<string, unknown>,
  field: string,
  where: RecordLocation,
  format: string,
): E.Either<DataError, string> {
  const value = record[field];
  if (value === undefined || value === null) {
    return E.left(
      dataError(where, field, `missing; a ${format} record needs a "${field}" string field`),
    );
  }
  if (typeof value !== 'string') {
    return E.left(dataError(where, field, `expected a string, got ${typeof value}`));
  }
  if (value.trim() === '') return E.left(dataError(where, field, 'empty string'));
  return E.right(value);
}

/**
 * The record id: the source's `id` when present (a string as is; a number, or a `bigint` from a
 * Parquet INT64 column written with all its digits, as `<format>-<id>`), else
 * `<format>-<hash64Hex(question)>` so the id (and thus the split) is stable under re-ordering.
 */
export function recordId(
  record: Record<string, unknown>,
  format: string,
  question: string,
): string {
  const id = record['id'];
  if (typeof id === 'string' && id.trim() !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return `${format}-${id}`;
  if (typeof id === 'bigint') return `${format}-${id.toString()}`;
  return `${format}-${hash64Hex(question)}`;
}

/** True unless `value` is `undefined` or `null` (Parquet writes nulls for absent values). */
export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}
