/**
 * Fault injection for the crash-safety tests (`apps/covrl/src/reliability.test.ts`), in the
 * spirit of SQLite's test VFS: every place where the app makes a write durable or visible calls
 * {@link faultPoint} with a label, and the environment variable `COVRL_FAULT` decides what
 * happens there. Unset (every normal run), a fault point costs one comparison.
 *
 * - `COVRL_FAULT=count:<file>`: append each point's label to `<file>` (one per line), so a test
 *   learns how many points an uninterrupted run passes and can pick kill points among them.
 * - `COVRL_FAULT=kill@<n>`: at the n-th point (1-based) the process sends itself SIGKILL: no
 *   handler, no flush, exactly a `kill -9` at that moment.
 * - `COVRL_FAULT=enospc@<n>`: the n-th point throws the error a full disk gives (`ENOSPC`), as the
 *   write there would; later points pass.
 */
import { appendFileSync } from 'node:fs';

interface Plan {
  readonly kind: 'count' | 'kill' | 'enospc';
  readonly at: number;
  readonly file?: string;
}

/** Parse `COVRL_FAULT`; an unrecognised value is an error (a typo must not silently test nothing). */
function parsePlan(raw: string | undefined): Plan | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.startsWith('count:')) return { kind: 'count', at: 0, file: raw.slice('count:'.length) };
  const m = /^(kill|enospc)@([1-9]\d*)$/.exec(raw);
  if (m === null) {
    throw new Error(
      `COVRL_FAULT=${raw}: expected count:<file>, kill@<n> or enospc@<n> (n ≥ 1); unset it for a normal run`,
    );
  }
  return { kind: m[1] as 'kill' | 'enospc', at: Number(m[2]) };
}

let plan: Plan | undefined | null = null;
let seen = 0;

/**
 * Replace the plan for this process (in-process tests; a child process reads `COVRL_FAULT`), with
 * the counter reset. `undefined` switches fault injection off.
 */
export function setFaultPlan(raw: string | undefined): void {
  plan = parsePlan(raw);
  seen = 0;
}

/** Whether `COVRL_FAULT` is set (fault points then cost more than a comparison). */
export function faultsActive(): boolean {
  if (plan === null) plan = parsePlan(process.env['COVRL_FAULT']);
  return plan !== undefined;
}

/**
 * A point where a crash or a failed write must leave the run consistent. `label` names the
 * operation and path (`rename <path>`), recorded by `count:` plans. Throws an `ENOSPC` error
 * naming `label` under an `enospc@n` plan; never returns under a `kill@n` plan at its n-th point.
 */
export function faultPoint(label: string): void {
  if (plan === null) plan = parsePlan(process.env['COVRL_FAULT']);
  if (plan === undefined) return;
  seen++;
  if (plan.kind === 'count') {
    appendFileSync(plan.file as string, `${label.replace(/\n/g, ' ')}\n`);
  } else if (seen === plan.at) {
    if (plan.kind === 'kill') process.kill(process.pid, 'SIGKILL');
    const error = new Error(
      `ENOSPC: no space left on device (injected by COVRL_FAULT at ${label})`,
    ) as NodeJS.ErrnoException;
    error.code = 'ENOSPC';
    throw error;
  }
}
