/**
 * The app's file-writing layer over `@covrl/utils/node`: atomic writes (temporary file
 * `.<name>.<pid>.<hex>.tmp` in the same directory, every byte written with short writes looped,
 * fsync of the file, rename over the target, fsync of the directory), so a crash, a Ctrl-C or a
 * full disk leaves either the old file or the new one, never a torn mix; errors that name the
 * operation and the path (ENOSPC, EROFS, EACCES, …); the sweep of temporary files and directories
 * killed processes left; and the fault points of the crash tests (`util/fault.ts`).
 *
 * Used for checkpoints, logs, reports, results, exports and datasets.
 */
import * as nodeFs from 'node:fs';
import { existsSync, mkdirSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  TEMP_FILE_PATTERN,
  fsyncDir,
  processAlive,
  sweepTempFiles as sweepAtomicTemps,
  writeFileAtomicSync as utilsWriteFileAtomicSync,
} from '@covrl/utils/node';
import type { AtomicSyncFs } from '@covrl/utils/node';
import { faultPoint, faultsActive } from './fault.js';

/** The directory fsync and liveness check of `@covrl/utils/node`, for the app's other writers. */
export { fsyncDir, processAlive };

/**
 * Temporary directories the app's directory writers create (`.<name>.<pid>.tmp` being written,
 * `.<name>.<pid>.old` being replaced: checkpoints, exports, pretraining outputs).
 */
export const TEMP_DIR_NAME = /^\.(.+)\.(\d+)\.(tmp|old)$/;

/** Node's fs with a fault point before each rename (only under `COVRL_FAULT`). */
function faultFs(): AtomicSyncFs | undefined {
  if (!faultsActive()) return undefined;
  const fs = nodeFs as unknown as AtomicSyncFs;
  return {
    mkdirSync: (p, o) => fs.mkdirSync(p, o),
    statSync: (p) => fs.statSync(p),
    openSync: (p, f) => fs.openSync(p, f),
    writeSync: (fd, b, o, l) => fs.writeSync(fd, b, o, l),
    fsyncSync: (fd) => fs.fsyncSync(fd),
    closeSync: (fd) => fs.closeSync(fd),
    renameSync: (from, to) => {
      faultPoint(`rename ${to}`);
      fs.renameSync(from, to);
    },
    rmSync: (p, o) => fs.rmSync(p, o),
  };
}

/**
 * An error naming the function, the operation and the path, with the system's code kept
 * (`error.code` stays `ENOSPC`, `EROFS`, `EACCES`, … so callers can still branch on it).
 */
export function fileError(fn: string, op: string, path: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const hint =
    code === 'ENOSPC'
      ? ' (the disk is full: free space and rerun; the previous file is untouched)'
      : code === 'EROFS'
        ? ' (the filesystem is read-only: choose a writable --out)'
        : code === 'EACCES' || code === 'EPERM'
          ? ' (permission denied: choose a directory you can write)'
          : '';
  const error = new Error(`${fn}: ${op} ${path}: ${detail}${hint}`, { cause }) as Error & {
    code?: string;
    path?: string;
  };
  if (code !== undefined) error.code = code;
  error.path = path;
  return error;
}

/** Make `dir` (and its parents), naming it on failure. */
export function ensureDir(dir: string, fn = 'ensureDir'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw fileError(fn, 'mkdir', dir, error);
  }
}

/** Write every byte of `bytes` to `fd`, looping on short writes (a nearly full disk). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    const n = writeSync(fd, bytes, off, bytes.length - off);
    if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
    off += n;
  }
}

/**
 * Synchronous atomic write of `data` to `path` (`@covrl/utils/node`'s complete-or-absent write);
 * creates the directory. Throws an error naming the operation and path; the target is untouched.
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const fs = faultFs();
  try {
    faultPoint(`write ${path}`);
  } catch (error) {
    throw fileError('writeFileAtomicSync', 'write', path, error);
  }
  utilsWriteFileAtomicSync(path, data, fs === undefined ? {} : { fs });
  // With an injected fs the utils skip the directory fsync; do it here.
  if (fs !== undefined) fsyncDir(dirname(path));
}

/** {@link writeFileAtomicSync} behind a promise (the app's files are small; one code path). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  writeFileAtomicSync(path, data);
  return Promise.resolve();
}

/**
 * Remove what killed processes left in `dir`: the temporary files of atomic writes (through
 * `@covrl/utils/node`) and the app's temporary directories (`.<name>.<pid>.tmp`, and
 * `.<name>.<pid>.old` copies whose `<name>` exists again). Entries of running processes (this
 * one included) are kept; `keep` spares entries another sweep handles. Returns the removed names.
 */
export function sweepTempFiles(
  dir: string,
  keep: (name: string) => boolean = () => false,
): string[] {
  if (!existsSync(dir)) return [];
  const removed = sweepAtomicTemps(dir, { keep }).map((p) => p.slice(dir.length + 1));
  for (const entry of readdirSync(dir)) {
    // Atomic-write temp files are the utils' sweep's (their pid is not the last number).
    const m = TEMP_FILE_PATTERN.test(entry) ? null : TEMP_DIR_NAME.exec(entry);
    if (m === null || keep(entry) || processAlive(Number(m[2]))) continue;
    // An `.old` copy is the only complete one when its target is missing: never removed here.
    if (m[3] === 'old' && !existsSync(join(dir, m[1] as string))) continue;
    rmSync(join(dir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
