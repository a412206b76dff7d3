/**
 * A writer of arbitrary source-shaped Parquet files for tests (importer inputs in the shapes
 * Hugging Face exports: INT64 integers, native `list<string>` columns, ARC's
 * `struct<text: list<string>, label: list<string>>`), over hyparquet-writer.
 */
import { fileWriter, parquetWriteRows } from 'hyparquet-writer';

/** A list of strings, written as a native Parquet 3-level LIST of UTF8 (what pyarrow writes). */
export type StringListColumn = 'STRING_LIST';

/**
 * Column types {@link writeSourceParquet} writes. Scalars as in hyparquet-writer (`INT64` takes
 * `bigint` values and reads back as `bigint`); `STRING_LIST` a native list; an object a struct
 * whose fields are `STRING` or `STRING_LIST`.
 */
export type SourceColumnType =
  | 'STRING'
  | 'BYTE_ARRAY'
  | 'INT32'
  | 'INT64'
  | 'DOUBLE'
  | 'BOOLEAN'
  | 'JSON'
  | StringListColumn
  | { readonly [field: string]: 'STRING' | StringListColumn };

interface SchemaElement {
  name: string;
  type?: 'BOOLEAN' | 'INT32' | 'INT64' | 'DOUBLE' | 'BYTE_ARRAY';
  converted_type?: 'UTF8' | 'JSON' | 'LIST';
  repetition_type?: 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
  num_children?: number;
}

function elements(name: string, type: SourceColumnType): SchemaElement[] {
  const optional = 'OPTIONAL' as const;
  if (typeof type === 'object') {
    const fields = Object.entries(type);
    return [
      { name, repetition_type: optional, num_children: fields.length },
      ...fields.flatMap(([field, fieldType]) => elements(field, fieldType)),
    ];
  }
  switch (type) {
    case 'STRING':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: optional }];
    case 'JSON':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: optional }];
    case 'STRING_LIST':
      return [
        { name, repetition_type: optional, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        ...elements('element', 'STRING'),
      ];
    default:
      return [{ name, type, repetition_type: optional }];
  }
}

/**
 * Write `rows` to a Parquet file at `path` with the given column types, every column nullable
 * (`null` or a missing key writes a null), `rowGroupSize` rows per row group (default: all rows
 * in one group). Not atomic: a test fixture writer, not for data the project produces.
 */
export async function writeSourceParquet(
  path: string,
  rows: readonly Record<string, unknown>[],
  columns: Readonly<Record<string, SourceColumnType>>,
  options: { readonly rowGroupSize?: number } = {},
): Promise<void> {
  const names = Object.keys(columns);
  const schema = [
    { name: 'root', num_children: names.length },
    ...names.flatMap((name) => elements(name, columns[name] as SourceColumnType)),
  ];
  await parquetWriteRows({
    writer: fileWriter(path),
    rows: rows.map((row) => Object.fromEntries(names.map((n) => [n, row[n] ?? null]))),
    columns: names.map((name) => ({ name })),
    schema,
    rowGroupSize: options.rowGroupSize ?? Math.max(1, rows.length),
  });
}
