/**
 * The Node-only part of `@covrl/utils`: complete-or-absent file writes and the sweep of their
 * temporary files. Import from `@covrl/utils/node`; the main entry stays browser-safe.
 *
 * @packageDocumentation
 */
export {
  AtomicWriteError,
  TEMP_FILE_PATTERN,
  fsyncDir,
  openAtomicLineWriter,
  processAlive,
  sweepTempFiles,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
} from './atomic.js';
export type {
  AtomicAsyncFs,
  AtomicFileHandle,
  AtomicLineWriter,
  AtomicSyncFs,
  AtomicWriteOperation,
  AtomicWriteOptions,
  SweepOptions,
} from './atomic.js';
