/**
 * @covrl/data: the question/answer record, importers for GSM8K, MATH and multiple-choice sets,
 * stable splits and shuffles, and a synthetic reasoning suite with noisy step-by-step traces for
 * pretraining corpora. Browser-safe: nothing here imports `node:*`. The file loaders and writers
 * (streaming JSONL and Parquet, atomic writes) are in `@covrl/data/node`.
 *
 * @packageDocumentation
 */
export type { DataError, RecordLocation } from './errors.js';
export { DataFileError, dataError, formatDataError } from './errors.js';
export type { Domain, Example } from './schema.js';
export { DOMAINS, decodeExample, exampleToRecord } from './schema.js';
export type {
  ExampleStream,
  LoadCounts,
  OnInvalid,
  ReadOptions,
  RecordDecoder,
  Rejection,
} from './stream.js';
export { collect } from './stream.js';
export type { ImportFormat, ImportOptions, Importer } from './importers/index.js';
export {
  formatMultipleChoice,
  getImporter,
  gsm8kFinalAnswer,
  importGsm8k,
  importMath,
  importMultipleChoice,
  importers,
  lastBoxed,
} from './importers/index.js';
export { fnv1a32, hash64Hex, seedFrom } from './hash.js';
export { Rng } from './rng.js';
export type { Duplicate, Split } from './split.js';
export { dedupe, normaliseQuestion, shuffle, splitOf } from './split.js';
export type {
  Family,
  FamilyName,
  GenerateOptions,
  TraceOptions,
  WrittenTrace,
} from './families/index.js';
export {
  FAMILY_NAMES,
  addition,
  deduction,
  families,
  familyOf,
  generateSuite,
  getFamily,
  linearEquation,
  normaliseInteger,
  normaliseWord,
  ordering,
  rate,
  stringOps,
} from './families/index.js';
export type { CorpusMix, CorpusTags, PretrainCorpusOptions, ShapeCounts } from './corpus.js';
export {
  PRETRAIN_STREAM,
  buildPretrainCorpus,
  formatNoTraceText,
  formatPosteriorText,
  formatPriorText,
} from './corpus.js';
