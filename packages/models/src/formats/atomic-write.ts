/**
 * Crash-safe file writes for the format layer: a reader sees either the old file or the complete
 * new one, never a torn write.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Write `data` to `path` atomically: write a temporary file in the same directory, fsync it,
 * rename it over `path`, then fsync the directory (best effort; some file systems refuse a
 * directory fsync, which is harmless because the rename already happened).
 *
 * The temporary file lives in the target's directory because `rename` is only atomic within one
 * file system. On failure the temporary file is removed and the error re-thrown.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (_error) {
    // Directory fsync is unsupported on some platforms (Windows); the data itself is synced.
  }
}
