/**
 * The skip/fail policy and the rejects file of the file loaders (Node only: the rejects file is
 * written through `node:fs`). Kept apart from `stream.ts` so the record types and
 * {@link collect} stay importable from the browser-safe main entry.
 */
import type { DataError } from './errors.js';
import { DataFileError } from './errors.js';
import type { AtomicLineWriter } from './atomic.js';
import { openAtomicLineWriter } from './atomic.js';
import type { LoadCounts, ReadOptions, Rejection } from './stream.js';

/** The skip/fail policy and the rejects file, shared by the loaders. */
export class RejectSink {
  private writer: AtomicLineWriter | undefined;
  constructor(
    private readonly options: ReadOptions,
    private readonly counts: LoadCounts,
  ) {}

  /** Record a rejection; throws a {@link DataFileError} in fail mode. */
  async reject(error: DataError, raw: string): Promise<void> {
    const rejection: Rejection = { ...error, raw };
    this.options.onReject?.(rejection);
    if ((this.options.onInvalid ?? 'fail') === 'fail') throw new DataFileError(error);
    this.counts.rejected += 1;
    if (this.options.rejectsPath !== undefined) {
      this.writer ??= await openAtomicLineWriter(this.options.rejectsPath);
      await this.writer.write(JSON.stringify(rejection));
    }
  }

  /** Commit the rejects file (written even when empty, so "zero rejects" is visible on disk). */
  async close(): Promise<void> {
    if ((this.options.onInvalid ?? 'fail') !== 'skip' || this.options.rejectsPath === undefined)
      return;
    this.writer ??= await openAtomicLineWriter(this.options.rejectsPath);
    await this.writer.commit();
  }
}
