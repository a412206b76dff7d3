/**
 * Replacing a whole directory atomically: the new contents are written into a temporary sibling
 * `.<name>.<pid>.tmp`, then the old directory (if any) is renamed aside to `.<name>.<pid>.old`,
 * the new one renamed into place, and the old one removed. At every moment `<name>` or its
 * `.old` copy is complete; {@link recoverDirAside} puts an `.old` copy back when a kill came
 * between the two renames, and removes the leftovers of killed writers.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileError, fsyncDir, processAlive, sweepTempFiles } from './atomic.js';
import { faultPoint } from './fault.js';

const OLD = /^\.(.+)\.(\d+)\.old$/;

/** Move the complete directory `tmp` to `dir`, replacing `dir` (see the module comment). */
export function swapDirInto(tmp: string, dir: string, fn: string): void {
  const old = join(dirname(dir), `.${basename(dir)}.${process.pid}.old`);
  const rename = (from: string, to: string): void => {
    faultPoint(`rename ${to}`);
    try {
      renameSync(from, to);
    } catch (error) {
      throw fileError(fn, 'rename', `${from} → ${to}`, error);
    }
  };
  fsyncDir(tmp);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) rename(dir, old);
  rename(tmp, dir);
  fsyncDir(dirname(dir));
  faultPoint(`remove ${old}`);
  rmSync(old, { recursive: true, force: true });
}

/**
 * In `parent`: an `.<name>.<pid>.old` directory of a process no longer running whose `<name>` is
 * missing is renamed back (the kill came between the two renames of {@link swapDirInto}); the
 * other temporary entries of dead processes are removed. Returns what it put back.
 */
export function recoverDirAside(parent: string): string[] {
  if (!existsSync(parent)) return [];
  const restored: string[] = [];
  for (const entry of readdirSync(parent)) {
    const m = OLD.exec(entry);
    if (m === null || processAlive(Number(m[2]))) continue;
    const target = join(parent, m[1] as string);
    if (!existsSync(target)) {
      renameSync(join(parent, entry), target);
      restored.push(target);
    }
  }
  sweepTempFiles(parent);
  return restored;
}
