import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtomicAsyncFs, AtomicFileHandle, AtomicSyncFs } from './atomic.js';
import {
  AtomicWriteError,
  TEMP_FILE_PATTERN,
  openAtomicLineWriter,
  sweepTempFiles,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
} from './atomic.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'covrl-utils-atomic-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const errno = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code });

/** Node's sync fs with `writeSync` writing at most `chunk` bytes per call (a short write). */
function shortWritingSyncFs(chunk: number, calls: number[]): AtomicSyncFs {
  return {
    ...(fs as unknown as AtomicSyncFs),
    writeSync: (fd, buffer, offset, length) => {
      calls.push(length);
      return fs.writeSync(fd, buffer, offset, Math.min(chunk, length));
    },
  };
}

/** Node's async fs whose handles write at most `chunk` bytes per call. */
function shortWritingAsyncFs(chunk: number, calls: number[]): AtomicAsyncFs {
  return {
    ...(fsp as unknown as AtomicAsyncFs),
    open: async (path, flags) => {
      const handle = await fsp.open(path, flags);
      const wrapped: AtomicFileHandle = {
        write: (buffer, offset, length, position) => {
          calls.push(length);
          return handle.write(buffer, offset, Math.min(chunk, length), position);
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
      return wrapped;
    },
  };
}

const leftovers = (): string[] => fs.readdirSync(dir).filter((n) => TEMP_FILE_PATTERN.test(n));

describe('writeFileAtomicSync', () => {
  it('writes every byte through short writes', () => {
    const target = join(dir, 'a.bin');
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    const calls: number[] = [];
    writeFileAtomicSync(target, data, { fs: shortWritingSyncFs(137, calls) });
    expect(new Uint8Array(fs.readFileSync(target))).toEqual(data);
    expect(calls.length).toBe(Math.ceil(1000 / 137));
    expect(leftovers()).toEqual([]);
  });

  it('on ENOSPC mid-file: names path and cause, leaves the old file and no temp file', () => {
    const target = join(dir, 'metrics.jsonl');
    fs.writeFileSync(target, 'old content\n');
    let n = 0;
    const full: AtomicSyncFs = {
      ...(fs as unknown as AtomicSyncFs),
      writeSync: (fd, buffer, offset, length) => {
        n += 1;
        if (n > 1) throw errno('ENOSPC');
        return fs.writeSync(fd, buffer, offset, Math.min(10, length));
      },
    };
    let caught: unknown;
    try {
      writeFileAtomicSync(target, 'x'.repeat(100), { fs: full });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AtomicWriteError);
    const e = caught as AtomicWriteError;
    expect(e.code).toBe('ENOSPC');
    expect(e.operation).toBe('write');
    expect(e.message).toMatch(
      /writeFileAtomicSync: write '.*metrics\.jsonl.*\.tmp' failed: ENOSPC \(disk full/,
    );
    expect(fs.readFileSync(target, 'utf8')).toBe('old content\n');
    expect(leftovers()).toEqual([]);
  });

  it('stops with ENOSPC when writes make no progress, instead of spinning', () => {
    const target = join(dir, 'b');
    const stuck: AtomicSyncFs = { ...(fs as unknown as AtomicSyncFs), writeSync: () => 0 };
    expect(() => writeFileAtomicSync(target, 'abc', { fs: stuck })).toThrow(
      /write '.*b' failed: no progress after 0 of 3 bytes/,
    );
    expect(fs.existsSync(target)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('reports EROFS and EACCES with the operation and a hint', () => {
    const target = join(dir, 'c');
    for (const [code, hint] of [
      ['EROFS', 'read-only file system'],
      ['EACCES', 'permission denied'],
    ] as const) {
      const refusing: AtomicSyncFs = {
        ...(fs as unknown as AtomicSyncFs),
        openSync: () => {
          throw errno(code);
        },
      };
      expect(() => writeFileAtomicSync(target, 'x', { fs: refusing })).toThrow(
        new RegExp(`writeFileAtomicSync: open '.*\\.tmp' failed: ${code} \\(${hint}`),
      );
    }
    const failingRename: AtomicSyncFs = {
      ...(fs as unknown as AtomicSyncFs),
      renameSync: () => {
        throw errno('EACCES');
      },
    };
    expect(() => writeFileAtomicSync(target, 'x', { fs: failingRename })).toThrow(
      /rename '.*\/c' failed: EACCES/,
    );
    expect(fs.existsSync(target)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('names a missing parent directory (no misleading mkdir/temp-file ENOENT)', () => {
    const target = join(dir, 'missing', 'd.json');
    expect(() => writeFileAtomicSync(target, '{}', { createDirectory: false })).toThrow(
      /open '.*\/missing' failed: ENOENT \(no such directory.*parent directory does not exist\)/,
    );
    writeFileAtomicSync(target, '{}');
    expect(fs.readFileSync(target, 'utf8')).toBe('{}');
  });

  it('replaces an existing file with the complete new content', () => {
    const target = join(dir, 'e.txt');
    writeFileAtomicSync(target, 'first');
    writeFileAtomicSync(target, 'second, longer');
    expect(fs.readFileSync(target, 'utf8')).toBe('second, longer');
  });
});

describe('writeFileAtomic', () => {
  it('writes every byte through short writes', async () => {
    const target = join(dir, 'a.txt');
    const calls: number[] = [];
    const text = 'é'.repeat(300); // 600 bytes of UTF-8
    await writeFileAtomic(target, text, { fs: shortWritingAsyncFs(100, calls) });
    expect(fs.readFileSync(target, 'utf8')).toBe(text);
    expect(calls).toEqual([600, 500, 400, 300, 200, 100]);
  });

  it('on a failed fsync: the old file stays, the temp file is gone, the error names fsync', async () => {
    const target = join(dir, 'w.safetensors');
    fs.writeFileSync(target, 'old');
    const failing: AtomicAsyncFs = {
      ...(fsp as unknown as AtomicAsyncFs),
      open: async (path, flags) => {
        const h = await fsp.open(path, flags);
        return {
          write: (b, o, l, p) => h.write(b, o, l, p),
          sync: () => Promise.reject(errno('EIO')),
          close: () => h.close(),
        };
      },
    };
    await expect(writeFileAtomic(target, 'new', { fs: failing })).rejects.toThrow(
      /writeFileAtomic: fsync '.*\.tmp' failed: EIO/,
    );
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(leftovers()).toEqual([]);
  });
});

describe('openAtomicLineWriter', () => {
  it('writes nothing under the target until commit, and every line after it', async () => {
    const target = join(dir, 'lines.jsonl');
    const calls: number[] = [];
    const w = await openAtomicLineWriter(target, { fs: shortWritingAsyncFs(7, calls) });
    await w.write('{"a":1}');
    await w.write('{"b":2}');
    expect(fs.existsSync(target)).toBe(false);
    await w.commit();
    expect(fs.readFileSync(target, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    expect(calls.length).toBe(3);
  });

  it('abort removes the temp file and leaves the target untouched', async () => {
    const target = join(dir, 'lines.jsonl');
    fs.writeFileSync(target, 'old\n');
    const w = await openAtomicLineWriter(target);
    await w.write('new');
    await w.abort();
    expect(fs.readFileSync(target, 'utf8')).toBe('old\n');
    expect(leftovers()).toEqual([]);
    await expect(w.write('late')).rejects.toThrow(/write after commit or abort/);
  });
});

describe('sweepTempFiles', () => {
  it('removes temp files of dead writers, keeps live ones and other files', () => {
    const target = join(dir, 'model.json');
    const mine = tempPathFor(target);
    expect(TEMP_FILE_PATTERN.test(mine.slice(dir.length + 1))).toBe(true);
    fs.writeFileSync(mine, 'live');
    // pid 2^22 + 12345 is above Linux's default pid_max (2^22): no such process.
    const dead = join(dir, `.model.json.${2 ** 22 + 12345}.0123abcd.tmp`);
    fs.writeFileSync(dead, 'torn');
    fs.writeFileSync(join(dir, 'model.json'), 'kept');
    fs.writeFileSync(join(dir, '.hidden.tmp'), 'kept');
    expect(sweepTempFiles(dir)).toEqual([dead]);
    expect(fs.readdirSync(dir).sort()).toEqual(
      ['.hidden.tmp', 'model.json', mine.slice(dir.length + 1)].sort(),
    );
    expect(sweepTempFiles(dir, { all: true })).toEqual([mine]);
    expect(sweepTempFiles(join(dir, 'nope'))).toEqual([]);
  });
});
