/**
 * The shared shape of the streaming loaders: options, counts, rejects, and the skip/fail policy.
 */
import type * as E from 'fp-ts/lib/Either.js';
import type { DataError, RecordLocation } from './errors.js';
import type { Example } from './schema.js';

/** What a loader does with an invalid record: throw at once, or skip it and record why. */
export type OnInvalid = 'fail' | 'skip';

/** A rejected record: where, which field, why, and the raw text (lossy UTF-8 for invalid bytes). */
export interface Rejection extends DataError {
  readonly raw: string;
}

/** Options shared by `readJsonl`, `readParquet` and `loadDataset`. */
export interface ReadOptions {
  /** `fail` (default) throws a `DataFileError` on the first invalid record; `skip` goes on. */
  readonly onInvalid?: OnInvalid;
  /** In skip mode, write every rejection as one JSON line here (atomically, when the read ends). */
  readonly rejectsPath?: string;
  /** Called for every rejection (both modes; in fail mode just before the throw). */
  readonly onReject?: (rejection: Rejection) => void;
}

/** Counts a loader keeps while it streams; final once iteration has ended. */
export interface LoadCounts {
  /** Non-blank lines (JSONL) or rows (Parquet) seen. */
  records: number;
  /** Records yielded as examples. */
  kept: number;
  /** Records rejected (skip mode) — each also written to `rejectsPath` when given. */
  rejected: number;
  /** Whitespace-only lines ignored (JSONL only). */
  blank: number;
}

/** An async iterable of examples that also exposes its running {@link LoadCounts}. */
export interface ExampleStream extends AsyncIterable<Example> {
  readonly counts: Readonly<LoadCounts>;
}

/** Maps a raw record at a location to an example (the schema decoder, or an importer). */
export type RecordDecoder = (raw: unknown, where: RecordLocation) => E.Either<DataError, Example>;

/** Fresh zeroed counts. */
export function emptyCounts(): LoadCounts {
  return { records: 0, kept: 0, rejected: 0, blank: 0 };
}

/** Wrap a generator factory and its counts into an {@link ExampleStream}. */
export function exampleStream(
  counts: LoadCounts,
  iterate: () => AsyncGenerator<Example>,
): ExampleStream {
  return {
    counts,
    [Symbol.asyncIterator]: () => iterate(),
  };
}

/** Drain a stream into an array (for small files and tests). */
export async function collect(stream: AsyncIterable<Example>): Promise<Example[]> {
  const out: Example[] = [];
  for await (const example of stream) out.push(example);
  return out;
}
