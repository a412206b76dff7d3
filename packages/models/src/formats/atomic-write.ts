/**
 * Crash-safe file writes for the format layer: a reader sees either the old file or the complete
 * new one, never a torn write. The one implementation is `@covrl/utils/node`'s `writeFileAtomic`
 * (temp file beside the target, every byte written, fsync, rename, directory fsync; errors name
 * the operation and path).
 */
export { writeFileAtomic } from '@covrl/utils/node';
