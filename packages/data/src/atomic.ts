/**
 * Atomic file output: bytes go to a temporary file beside the target, are flushed with fsync and
 * renamed over the target, so a crash leaves either the old file or the new one, never a torn mix.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temporary path in the same directory as `path` (so the final rename stays on one device). */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

/** Flush size for buffered line writes: large enough to amortise syscalls, small and constant. */
const FLUSH_BYTES = 1 << 16;

/**
 * An open atomic line writer: `write` buffers lines, `commit` flushes, fsyncs and renames,
 * `abort` removes the temporary file.
 */
export interface AtomicLineWriter {
  write(line: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  readonly path: string;
}

/** Open an {@link AtomicLineWriter} for `path`; creates the directory. Each line gets a `\n`. */
export async function openAtomicLineWriter(path: string): Promise<AtomicLineWriter> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const handle: FileHandle = await open(tmp, 'w');
  let buffer: string[] = [];
  let bytes = 0;
  let closed = false;
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return;
    const text = buffer.join('');
    buffer = [];
    bytes = 0;
    await handle.write(text);
  };
  return {
    path,
    async write(line: string): Promise<void> {
      buffer.push(line, '\n');
      bytes += line.length + 1;
      if (bytes >= FLUSH_BYTES) await flush();
    },
    async commit(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await flush();
        await handle.sync();
      } catch (error) {
        await handle.close();
        await rm(tmp, { force: true });
        throw error;
      }
      await handle.close();
      try {
        await rename(tmp, path);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },
    async abort(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
      await rm(tmp, { force: true });
    },
  };
}

/** Write `data` to `path` atomically (temp file + fsync + rename). Creates the directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
