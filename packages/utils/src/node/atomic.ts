/**
 * Complete-or-absent file writes. Bytes go to a temporary file in the target's directory (so the
 * final rename stays on one file system, where it is atomic), every byte is written (short writes
 * are retried until done), the file is fsynced, renamed over the target, and the directory is
 * fsynced so the rename itself survives a power loss. A crash, a kill or a full disk therefore
 * leaves either the old file or the complete new one, never a torn mix; on a failure the temporary
 * file is removed and the target is untouched.
 *
 * Every error is an {@link AtomicWriteError} naming the operation and the path, with a hint for
 * the usual causes (disk full, read-only file system, permission denied, missing directory); the
 * original error is its `cause`, and its `code` is kept.
 *
 * Temporary names follow one pattern, `.<name>.<pid>.<8 hex>.tmp`, which {@link sweepTempFiles}
 * recognises to remove what a killed process left behind.
 */
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The operations an atomic write performs, named in its errors. */
export type AtomicWriteOperation =
  | 'mkdir'
  | 'open'
  | 'write'
  | 'fsync'
  | 'close'
  | 'rename'
  | 'fsync-directory'
  | 'readdir'
  | 'remove';

/** What to do for the usual error codes. */
const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'disk full: free space on that file system (or write elsewhere) and retry',
  EDQUOT: 'disk quota exceeded: free space or raise the quota and retry',
  EROFS: 'read-only file system: write to a writable directory',
  EACCES: 'permission denied: check the permissions of the file and its directory',
  EPERM: 'operation not permitted: check the permissions of the file and its directory',
  ENOENT: 'no such directory: create the parent directory first',
  ENOTDIR: 'a component of the path is not a directory: fix the path',
  EISDIR: 'the target is a directory: pass a file path',
  EMFILE: 'too many open files: close some files or raise the limit',
  EIO: 'input/output error: check the disk',
};

/** The error of a failed atomic write: which operation on which path, and what to do. */
export class AtomicWriteError extends Error {
  /** The Node error code (`'ENOSPC'`, `'EROFS'`, …) when there was one. */
  readonly code: string | undefined;

  constructor(
    readonly fn: string,
    readonly operation: AtomicWriteOperation,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown; code?: string | undefined },
  ) {
    super(`${fn}: ${operation} '${path}' failed: ${detail}`, { cause: options?.cause });
    this.code = options?.code;
  }

  override get name(): string {
    return 'AtomicWriteError';
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Wraps a Node error into an {@link AtomicWriteError} naming `operation` and `path`. */
function wrap(fn: string, operation: AtomicWriteOperation, path: string, error: unknown): Error {
  if (error instanceof AtomicWriteError) return error;
  const code = codeOf(error);
  const hint = code === undefined ? undefined : HINTS[code];
  const raw = error instanceof Error ? error.message : String(error);
  const detail =
    code === undefined ? raw : `${code}${hint === undefined ? '' : ` (${hint})`} [${raw}]`;
  return new AtomicWriteError(fn, operation, path, detail, { cause: error, code });
}

/** The temporary-file name pattern: `.<name>.<pid>.<8 hex>.tmp`. */
export const TEMP_FILE_PATTERN = /^\.(.+)\.(\d+)\.([0-9a-f]{8})\.tmp$/;

/**
 * A fresh temporary path beside `path` (same directory, so the final rename stays on one
 * file system): `<dir>/.<name>.<pid>.<8 random hex>.tmp`, matching {@link TEMP_FILE_PATTERN}.
 */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

/** The synchronous file-system calls an atomic write uses (a subset of `node:fs`). */
export interface AtomicSyncFs {
  mkdirSync(path: string, options: { recursive: true }): unknown;
  statSync(path: string): { isDirectory(): boolean };
  openSync(path: string, flags: string): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, options: { force: true }): void;
}

/** An open file as the asynchronous atomic write uses it (a subset of `FileHandle`). */
export interface AtomicFileHandle {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The asynchronous file-system calls an atomic write uses (a subset of `node:fs/promises`). */
export interface AtomicAsyncFs {
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  stat(path: string): Promise<{ isDirectory(): boolean }>;
  open(path: string, flags: string): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { force: true }): Promise<void>;
}

/** Options of {@link writeFileAtomic} and {@link writeFileAtomicSync}. */
export interface AtomicWriteOptions<F> {
  /**
   * Create the target's directory (recursively) when missing; default true. With false a missing
   * directory is an `ENOENT` error naming it.
   */
  readonly createDirectory?: boolean;
  /** The file-system implementation; default Node's. Tests inject short writes and failures here. */
  readonly fs?: F;
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** `wrote 0 bytes` twice in a row: no progress, so stop rather than spin. */
function noProgress(fn: string, path: string, written: number, total: number): AtomicWriteError {
  return new AtomicWriteError(
    fn,
    'write',
    path,
    `no progress after ${written} of ${total} bytes (the disk may be full): free space and retry`,
    { code: 'ENOSPC' },
  );
}

/**
 * What to do about the target's directory, given whether it is one (`true`), is something else
 * (`false`) or is missing (`undefined`): nothing, create it, or throw. A missing parent is
 * reported as such (`ENOENT … parent directory`) rather than as a later `mkdir`/`open` failure
 * that names the temporary file.
 */
function directoryPlan(
  fn: string,
  dir: string,
  isDir: boolean | undefined,
  create: boolean,
): 'ok' | 'create' {
  if (isDir === true) return 'ok';
  if (isDir === false) {
    throw new AtomicWriteError(fn, 'mkdir', dir, 'ENOTDIR (the parent is not a directory)', {
      code: 'ENOTDIR',
    });
  }
  if (!create) {
    throw new AtomicWriteError(
      fn,
      'open',
      dir,
      `ENOENT (${HINTS['ENOENT']}; the parent directory does not exist)`,
      { code: 'ENOENT' },
    );
  }
  return 'create';
}

/** `isDirectory()` of `stat(dir)`, `undefined` when missing; other errors are wrapped. */
function statDirectory(fn: string, dir: string, stat: () => { isDirectory(): boolean }) {
  try {
    return stat().isDirectory();
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw wrap(fn, 'mkdir', dir, error);
    return undefined;
  }
}

/** Makes sure the target's directory exists (see {@link directoryPlan}). */
function ensureDirectorySync(fn: string, fs: AtomicSyncFs, dir: string, create: boolean): void {
  const isDir = statDirectory(fn, dir, () => fs.statSync(dir));
  if (directoryPlan(fn, dir, isDir, create) === 'ok') return;
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw wrap(fn, 'mkdir', dir, error);
  }
}

/**
 * fsync of a directory, so a rename or a new entry in it survives a power cut. Best effort: some
 * platforms (Windows) and file systems refuse it, and then only that durability is not forced.
 */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = nodeFs.openSync(dir, 'r');
    nodeFs.fsyncSync(fd);
  } catch (_error) {
    // Unsupported here (EISDIR/EPERM/EINVAL on some systems): the file itself is synced and the
    // rename is done; only its durability across a power loss is not forced.
  } finally {
    if (fd !== undefined) nodeFs.closeSync(fd);
  }
}

/**
 * Write `data` to `path` so that it is complete or absent (temp file, loop until every byte is
 * written, fsync, rename, directory fsync). Synchronous, for exit handlers and checkpoints.
 *
 * @param path - the target file.
 * @param data - the content; a string is written as UTF-8.
 * @throws AtomicWriteError naming the operation and path (ENOSPC: disk full, EROFS: read-only file
 *   system, EACCES: permission denied, ENOENT: missing parent directory); the temp file is removed
 *   and the target untouched.
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions<AtomicSyncFs> = {},
): void {
  const fn = 'writeFileAtomicSync';
  const fs = options.fs ?? (nodeFs as unknown as AtomicSyncFs);
  const dir = dirname(path);
  ensureDirectorySync(fn, fs, dir, options.createDirectory ?? true);
  const bytes = toBytes(data);
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (error) {
    throw wrap(fn, 'open', tmp, error);
  }
  let operation: AtomicWriteOperation = 'write';
  try {
    let written = 0;
    let stalled = false;
    while (written < bytes.length) {
      const n = fs.writeSync(fd, bytes, written, bytes.length - written);
      if (n <= 0) {
        if (stalled) throw noProgress(fn, path, written, bytes.length);
        stalled = true;
      } else {
        stalled = false;
        written += n;
      }
    }
    operation = 'fsync';
    fs.fsyncSync(fd);
    operation = 'close';
    const closing = fd;
    fd = -1;
    fs.closeSync(closing);
    operation = 'rename';
    fs.renameSync(tmp, path);
  } catch (error) {
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch (_closeError) {
        // The first error is the one to report.
      }
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch (_rmError) {
      // Left for sweepTempFiles; the first error is the one to report.
    }
    throw wrap(fn, operation, operation === 'rename' ? path : tmp, error);
  }
  if (options.fs === undefined) fsyncDir(dir);
}

/** The asynchronous twin of {@link ensureDirectorySync}. */
async function ensureDirectory(
  fn: string,
  fs: AtomicAsyncFs,
  dir: string,
  create: boolean,
): Promise<void> {
  let stat: { isDirectory(): boolean } | Error;
  try {
    stat = await fs.stat(dir);
  } catch (error) {
    stat = error instanceof Error ? error : new Error(String(error));
  }
  const isDir = statDirectory(fn, dir, () => {
    if (stat instanceof Error) throw stat;
    return stat;
  });
  if (directoryPlan(fn, dir, isDir, create) === 'ok') return;
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (error) {
    throw wrap(fn, 'mkdir', dir, error);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: nodeFsp.FileHandle | undefined;
  try {
    handle = await nodeFsp.open(dir, 'r');
    await handle.sync();
  } catch (_error) {
    // Unsupported here (see fsyncDir): the data itself is synced.
  } finally {
    await handle?.close();
  }
}

/** Writes every byte of `bytes` through `handle`, retrying short writes. */
async function writeAll(
  fn: string,
  path: string,
  handle: AtomicFileHandle,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  let stalled = false;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, null);
    if (bytesWritten <= 0) {
      if (stalled) throw noProgress(fn, path, written, bytes.length);
      stalled = true;
    } else {
      stalled = false;
      written += bytesWritten;
    }
  }
}

/**
 * Write `data` to `path` so that it is complete or absent: the asynchronous twin of
 * {@link writeFileAtomicSync}, same steps, same errors.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions<AtomicAsyncFs> = {},
): Promise<void> {
  const fn = 'writeFileAtomic';
  const fs = options.fs ?? (nodeFsp as unknown as AtomicAsyncFs);
  const dir = dirname(path);
  await ensureDirectory(fn, fs, dir, options.createDirectory ?? true);
  const tmp = tempPathFor(path);
  let handle: AtomicFileHandle | undefined;
  try {
    handle = await fs.open(tmp, 'w');
  } catch (error) {
    throw wrap(fn, 'open', tmp, error);
  }
  await commitHandle(fn, fs, handle, tmp, path, (h) => writeAll(fn, path, h, toBytes(data)));
  if (options.fs === undefined) await fsyncDirectory(dir);
}

/**
 * Runs `write` on the open temp file, then fsync, close and rename; on any failure closes and
 * removes the temp file and throws the first error wrapped.
 */
async function commitHandle(
  fn: string,
  fs: AtomicAsyncFs,
  handle: AtomicFileHandle,
  tmp: string,
  path: string,
  write: (handle: AtomicFileHandle) => Promise<void>,
): Promise<void> {
  let operation: AtomicWriteOperation = 'write';
  let open = true;
  try {
    await write(handle);
    operation = 'fsync';
    await handle.sync();
    operation = 'close';
    open = false;
    await handle.close();
    operation = 'rename';
    await fs.rename(tmp, path);
  } catch (error) {
    if (open) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw wrap(fn, operation, operation === 'rename' ? path : tmp, error);
  }
}

/** Flush size for buffered line writes: large enough to amortise syscalls, small and constant. */
const FLUSH_BYTES = 1 << 16;

/**
 * An open atomic line writer: `write` buffers lines, `commit` writes the rest (every byte), fsyncs
 * and renames over the target, `abort` removes the temporary file.
 */
export interface AtomicLineWriter {
  write(line: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  readonly path: string;
}

/**
 * Open an {@link AtomicLineWriter} for `path` (creating the directory unless
 * `createDirectory: false`). Each line gets a `\n`. Until `commit` resolves, the target is
 * untouched; a failed write or commit removes the temporary file.
 */
export async function openAtomicLineWriter(
  path: string,
  options: AtomicWriteOptions<AtomicAsyncFs> = {},
): Promise<AtomicLineWriter> {
  const fn = 'openAtomicLineWriter';
  const fs = options.fs ?? (nodeFsp as unknown as AtomicAsyncFs);
  const dir = dirname(path);
  await ensureDirectory(fn, fs, dir, options.createDirectory ?? true);
  const tmp = tempPathFor(path);
  let handle: AtomicFileHandle;
  try {
    handle = await fs.open(tmp, 'w');
  } catch (error) {
    throw wrap(fn, 'open', tmp, error);
  }
  let buffer: string[] = [];
  let bytes = 0;
  let closed = false;
  const flush = async (h: AtomicFileHandle): Promise<void> => {
    if (buffer.length === 0) return;
    const text = buffer.join('');
    buffer = [];
    bytes = 0;
    await writeAll(fn, path, h, Buffer.from(text, 'utf8'));
  };
  const abort = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  };
  return {
    path,
    async write(line: string): Promise<void> {
      if (closed) throw new Error(`${fn}: write after commit or abort of '${path}'`);
      buffer.push(line, '\n');
      bytes += line.length + 1;
      if (bytes < FLUSH_BYTES) return;
      try {
        await flush(handle);
      } catch (error) {
        await abort();
        throw wrap(fn, 'write', tmp, error);
      }
    },
    async commit(): Promise<void> {
      if (closed) return;
      closed = true;
      await commitHandle(fn, fs, handle, tmp, path, flush);
      if (options.fs === undefined) await fsyncDirectory(dir);
    },
    abort,
  };
}

/** Options of {@link sweepTempFiles}. */
export interface SweepOptions {
  /**
   * Also remove temp files of processes that are still running (by default those are kept, since
   * their writer may be about to rename them); the current process's own are kept unless this is
   * set.
   */
  readonly all?: boolean;
  /** Spare the entries for which this returns true (another sweep handles them). */
  readonly keep?: (name: string) => boolean;
}

/** Whether process `pid` runs on this host (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return codeOf(error) === 'EPERM';
  }
}

/**
 * Remove the temporary files ({@link TEMP_FILE_PATTERN}) that killed writers left in `dir` (not
 * recursive). Files of live processes are kept unless `all` is set. A missing `dir` is no error.
 *
 * @returns the removed paths.
 * @throws AtomicWriteError naming `dir` when it cannot be listed, or a file cannot be removed.
 */
export function sweepTempFiles(dir: string, options: SweepOptions = {}): string[] {
  const fn = 'sweepTempFiles';
  let names: string[];
  try {
    names = nodeFs.readdirSync(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return [];
    throw wrap(fn, 'readdir', dir, error);
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_FILE_PATTERN.exec(name);
    if (match === null || options.keep?.(name) === true) continue;
    if (options.all !== true && processAlive(Number(match[2]))) continue;
    const path = join(dir, name);
    try {
      nodeFs.rmSync(path, { force: true, recursive: true });
    } catch (error) {
      throw wrap(fn, 'remove', path, error);
    }
    removed.push(path);
  }
  return removed;
}
