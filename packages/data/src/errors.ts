/**
 * Located data errors: every problem with a record names the file, the line (JSON Lines, 1-based)
 * or row (Parquet, 0-based row index), the field, what is wrong and what to do about it.
 */

/** Where a record came from: a JSON Lines line (1-based) or a Parquet row (0-based index). */
export type RecordLocation =
  | { readonly file: string; readonly line: number }
  | { readonly file: string; readonly row: number };

/** One problem with one record. `field` is `'<record>'` when the record as a whole is wrong. */
export interface DataError {
  readonly file: string;
  readonly line?: number;
  readonly row?: number;
  readonly field: string;
  readonly message: string;
}

/** Build a {@link DataError} at `where` for `field`. */
export function dataError(where: RecordLocation, field: string, message: string): DataError {
  return 'line' in where
    ? { file: where.file, line: where.line, field, message }
    : { file: where.file, row: where.row, field, message };
}

/**
 * Format a {@link DataError} as one line an editor can jump to:
 * `file:line: field: message` for JSON Lines, `file:row N: field: message` for Parquet.
 */
export function formatDataError(error: DataError): string {
  const at =
    error.line !== undefined
      ? `${error.file}:${error.line}`
      : error.row !== undefined
        ? `${error.file}:row ${error.row}`
        : error.file;
  return `${at}: ${error.field}: ${error.message}`;
}

/** Thrown by the loaders in `onInvalid: 'fail'` mode (and for unreadable files); carries the {@link DataError}. */
export class DataFileError extends Error {
  readonly dataError: DataError;
  constructor(error: DataError) {
    super(formatDataError(error));
    this.name = 'DataFileError';
    this.dataError = error;
  }
}
