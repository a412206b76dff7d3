/**
 * One writer per directory: a lock file holding the owner's pid, host, start time and command,
 * created with `O_EXCL` (two processes cannot both create it). `covrl train` locks its run
 * directory, `covrl compare` its output directory, `covrl pretrain` its output. A second writer
 * is refused with the owner's pid, host and command. A lock whose owner is no longer running on
 * this host (killed with `kill -9`, a power cut) is stale: the next writer takes it over, under a
 * short-lived takeover directory so two newcomers cannot both take it. A lock from another host
 * cannot be checked and is refused with the command that removes it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ensureDir, fileError, fsyncDir, processAlive, writeAllSync } from '../util/atomic.js';

/** What a lock file holds. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly command: string;
}

/** A held lock; `release` removes the file (idempotent; also run at process exit). */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** Thrown when another live process holds the lock. */
export class LockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | undefined,
  ) {
    super(
      owner === undefined
        ? `${path}: locked by another covrl process (the lock file is unreadable); if none is running, delete ${path}`
        : `${path}: another covrl process writes here (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}: ${owner.command}); ` +
            (owner.host === hostname()
              ? 'wait for it to finish or stop it (Ctrl-C saves its checkpoint), then rerun'
              : `if no covrl process runs on ${owner.host}, delete ${path}`),
    );
    this.name = 'LockedError';
  }
}

/** Parse a lock file; undefined when it is torn or not a lock (then it cannot be trusted). */
function readOwner(path: string): LockOwner | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (
      typeof v.pid === 'number' &&
      Number.isInteger(v.pid) &&
      typeof v.host === 'string' &&
      typeof v.startedAt === 'string' &&
      typeof v.command === 'string'
    ) {
      return v as LockOwner;
    }
  } catch (_error) {
    // Unreadable: handled by the caller.
  }
  return undefined;
}

/** Create the lock file exclusively; false when it exists. */
function tryCreate(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileError('lockDir', 'create', path, error);
  }
  try {
    writeAllSync(fd, Buffer.from(`${JSON.stringify(owner)}\n`));
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(path));
  return true;
}

/** Seconds after which an abandoned takeover directory is itself considered stale. */
const TAKEOVER_STALE_MS = 30_000;

/** Replace a stale lock at `path` by ours, one taker at a time. */
function takeOver(path: string, stale: LockOwner | undefined, owner: LockOwner): boolean {
  const guard = `${path}.takeover`;
  try {
    mkdirSync(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw fileError('lockDir', 'mkdir', guard, error);
    }
    // Another process is taking over; or one died doing so long ago.
    try {
      if (Date.now() - statSync(guard).mtimeMs < TAKEOVER_STALE_MS) return false;
      rmdirSync(guard);
      mkdirSync(guard);
    } catch (_error) {
      return false;
    }
  }
  try {
    // Still the same stale lock? (Someone may have taken it over and be running now.)
    const now = readOwner(path);
    if (JSON.stringify(now) !== JSON.stringify(stale)) return false;
    rmSync(path, { force: true });
    return tryCreate(path, owner);
  } finally {
    rmdirSync(guard);
  }
}

const held = new Set<string>();
let exitHook = false;

/**
 * Take the lock `path` (e.g. `<run>/covrl.lock`) for this process, creating its directory.
 * Throws {@link LockedError} when a live process holds it; takes over a stale one. `command` is
 * recorded for the message another writer gets.
 */
export function lockDir(path: string, command: string): DirLock {
  ensureDir(dirname(path), 'lockDir');
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, owner)) return register(path);
    const current = readOwner(path);
    if (current !== undefined && current.pid === process.pid && current.host === owner.host) {
      throw new LockedError(path, current);
    }
    const stale =
      current !== undefined && current.host === owner.host && !processAlive(current.pid);
    if (!stale) throw new LockedError(path, current);
    if (takeOver(path, current, owner)) return register(path);
  }
  throw new LockedError(path, readOwner(path));
}

function register(path: string): DirLock {
  held.add(path);
  if (!exitHook) {
    exitHook = true;
    // process.exit (a second Ctrl-C) skips `finally` blocks; the locks still go.
    process.on('exit', () => {
      for (const p of held) rmSync(p, { force: true });
    });
  }
  return {
    path,
    release: () => {
      if (!held.delete(path)) return;
      rmSync(path, { force: true });
    },
  };
}

/** Run `body` holding the lock `path`; the lock is released however `body` ends. */
export async function withDirLock<T>(
  path: string,
  command: string,
  body: () => Promise<T>,
): Promise<T> {
  const lock = lockDir(path, command);
  try {
    return await body();
  } finally {
    lock.release();
  }
}
