/**
 * Atomic file output for the loaders and writers: the one implementation lives in
 * `@covrl/utils/node` (temp file beside the target, every byte written, fsync, rename, directory
 * fsync; errors name the operation and path). Re-exported here under the names this package has
 * always used.
 */
export { openAtomicLineWriter, tempPathFor, writeFileAtomic } from '@covrl/utils/node';
export type { AtomicLineWriter } from '@covrl/utils/node';
