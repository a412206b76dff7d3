/**
 * `@covrl/data/node`: the Node-only half of `@covrl/data`, everything that touches the file system:
 * streaming JSONL and Parquet readers and atomic writers, the extension-dispatching loaders, and
 * atomic file writes. The record types they use (`Example`, `ExampleStream`, `ReadOptions`) and
 * the pure helpers are in the browser-safe main entry, `@covrl/data`.
 *
 * @packageDocumentation
 */
export { readJsonl, readJsonlWith, readLineBytes, writeJsonl } from './jsonl.js';
export { PARQUET_ROW_GROUP_SIZE, readParquet, readParquetWith, writeParquet } from './parquet.js';
export {
  JSONL_EXTENSIONS,
  PARQUET_EXTENSIONS,
  importDataset,
  loadDataset,
  loadRecords,
} from './load.js';
export { writeFileAtomic } from './atomic.js';
