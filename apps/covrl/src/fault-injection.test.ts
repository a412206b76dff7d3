/**
 * Fault injection against the built CLI (`apps/covrl/bin/covrl.js` → `dist/cli.js`; CI builds
 * before `npm test`), in the spirit of SQLite's crash tests. Every test runs tiny real commands in
 * child processes and checks one promise of docs/reliability.md:
 *
 * - kill -9 at seeded random fault points of `train` (8), `compare` (6) and `pretrain` (6): the
 *   rerun (`--resume`, the same `compare` command, `pretrain --force`) ends bit-identical to an
 *   uninterrupted run (step metrics, samples, evaluations, SHA-256 of the exported weights), the
 *   old base survives a killed `pretrain --force` whole, and no temporary file or lock is left;
 * - a full disk (a 256 KiB tmpfs when this process may mount one, else an injected ENOSPC): the
 *   error names the path, and after space is freed `--resume` ends bit-identical;
 * - a flipped byte in a checkpoint: the warning names the file and the run ends bit-identical;
 * - a second writer is refused naming the first one's pid; after a kill -9 of the first, the
 *   stale lock is taken over;
 * - a corrupt results.json: compare stops with the file and field named and touches nothing;
 * - SIGTERM: the run saves a checkpoint, exits 130, and resumes to the end.
 *
 * Fault points (`util/fault.ts`) are the places where the app makes a write durable or visible;
 * a counting run lists them, and the seeded generator picks among them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '@covrl/utils';
import { TINY } from './testing/tiny-run.js';

const BIN = fileURLToPath(new URL('../bin/covrl.js', import.meta.url));
const DIST_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const FLAGS = Object.entries(TINY).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

let dir: string;

interface Ran {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `covrl <args>` in a child process, with `COVRL_FAULT` set to `fault` when given. */
function covrl(args: readonly string[], fault?: string): Ran {
  const env: NodeJS.ProcessEnv = { ...process.env, COVRL_BACKEND: 'wasm' };
  delete env['COVRL_FAULT'];
  if (fault !== undefined) env['COVRL_FAULT'] = fault;
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (path: string): string =>
  createHash('sha256').update(readFileSync(path)).digest('hex');

/** Keys whose values depend on the machine or the process (timing, tensor counts). */
const VOLATILE = /^(time|throughput|perf)\//;

/** The deterministic content of a run directory. */
function runRecord(runDir: string): unknown {
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const clean = (m: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(m).filter(([k]) => !VOLATILE.test(k)));
  return {
    steps: lines
      .filter((r) => r['type'] === 'step')
      .map((r) => [r['step'], clean(r['metrics'] as Record<string, unknown>)]),
    evals: lines.filter((r) => r['type'] === 'eval').map((r) => [r['step'], r['metrics']]),
    samples: readFileSync(join(runDir, 'samples.jsonl'), 'utf8'),
    model: sha256(join(runDir, 'model', 'model.safetensors')),
  };
}

/** The deterministic content of a compare output: each run's status, splits and curves. */
function compareRecord(out: string): unknown {
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    progress: unknown;
    runs: {
      label: string;
      seed: number;
      status?: string;
      splits: unknown;
      curves: Record<string, unknown>;
    }[];
  };
  return {
    progress: results.progress,
    runs: results.runs.map((r) => ({
      label: r.label,
      seed: r.seed,
      status: r.status,
      splits: r.splits,
      curves: Object.fromEntries(Object.entries(r.curves).filter(([k]) => !VOLATILE.test(k))),
    })),
  };
}

/** Every leftover a crash may leave: dot-entries (temp files, `.old` copies) and locks. */
function leftovers(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e.startsWith('.') || e.endsWith('.lock')) out.push(p);
      else if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** The fault points an uninterrupted command passes, in order. */
function countPoints(args: readonly string[], name: string): string[] {
  const file = join(dir, `${name}.points`);
  const r = covrl(args, `count:${file}`);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(file, 'utf8').trim().split('\n');
}

/** `n` distinct points among `1..total`, drawn by a seeded generator. */
function pick(total: number, n: number, seed: number): number[] {
  const rng = new SeededRng(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(n, total)) chosen.add(1 + Math.floor(rng.next() * total));
  return [...chosen].sort((a, b) => a - b);
}

let base: string;
const trainArgs = (out: string, extra: string[] = []): string[] => [
  'train',
  '-m',
  'covrl',
  '--preset',
  'quick',
  ...FLAGS,
  ...extra,
  '-b',
  base,
  '-o',
  out,
];

/** Rerun `train` until it finishes: `--resume` when a checkpoint exists, else afresh. */
function finishTrain(out: string, extra: string[] = []): Ran {
  const resume =
    existsSync(join(out, 'checkpoints', 'latest.json')) ||
    (existsSync(join(out, 'checkpoints')) &&
      readdirSync(join(out, 'checkpoints')).some((d) => d.startsWith('step-')));
  return covrl(trainArgs(out, resume ? [...extra, '--resume'] : extra));
}

const compareArgs = (out: string): string[] => [
  'compare',
  '--preset',
  'quick',
  ...FLAGS,
  '--seeds',
  '1',
  '--methods',
  'covrl,grpo',
  '-b',
  base,
  '-o',
  out,
];

/** The uninterrupted train run (made once): its record and its fault points. */
let trainRef: { expected: unknown; points: string[] } | undefined;
function trainReference(): { expected: unknown; points: string[] } {
  if (trainRef === undefined) {
    const ref = join(dir, 'train-ref');
    const r = covrl(trainArgs(ref));
    expect(r.status, r.stderr).toBe(0);
    trainRef = {
      expected: runRecord(ref),
      points: countPoints(trainArgs(join(dir, 'train-count')), 'train'),
    };
  }
  return trainRef;
}

/** The uninterrupted compare (made once): its output directory. */
function compareReference(): string {
  const ref = join(dir, 'compare-ref');
  if (!existsSync(join(ref, 'results.json'))) {
    const r = covrl(compareArgs(ref));
    expect(r.status, r.stderr).toBe(0);
  }
  return ref;
}

beforeAll(() => {
  if (!existsSync(DIST_CLI)) {
    throw new Error(
      `${DIST_CLI} is missing: run \`npm run build\` before the fault-injection suite`,
    );
  }
  dir = mkdtempSync(join(tmpdir(), 'covrl-faults-'));
  base = join(dir, 'base');
  const r = covrl(['pretrain', '--preset', 'quick', ...FLAGS, '-o', base]);
  if (r.status !== 0) throw new Error(`covrl pretrain failed:\n${r.stderr}`);
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 at seeded random fault points', () => {
  it('train: 8 points, each resumed bit-identical to the uninterrupted run', () => {
    const { expected, points } = trainReference();
    expect(points.length).toBeGreaterThan(20);
    for (const k of pick(points.length, 8, 14)) {
      const out = join(dir, `train-kill-${k}`);
      const killed = covrl(trainArgs(out), `kill@${k}`);
      expect(killed.signal, `kill@${k} (${points[k - 1]})`).toBe('SIGKILL');
      const r = finishTrain(out);
      expect(r.status, `after kill@${k} (${points[k - 1]}):\n${r.stderr}`).toBe(0);
      expect(runRecord(out), `kill@${k} (${points[k - 1]})`).toEqual(expected);
      expect(leftovers(out), `kill@${k}`).toEqual([]);
    }
  }, 180_000);

  it('compare: 6 points, each rerun ends with the uninterrupted results', () => {
    const expected = compareRecord(compareReference());
    const args = compareArgs;
    const points = countPoints(args(join(dir, 'compare-count')), 'compare');
    for (const k of pick(points.length, 6, 1414)) {
      const out = join(dir, `compare-kill-${k}`);
      expect(covrl(args(out), `kill@${k}`).signal, `kill@${k} (${points[k - 1]})`).toBe('SIGKILL');
      const r = covrl(args(out));
      expect(r.status, `after kill@${k} (${points[k - 1]}):\n${r.stderr}`).toBe(0);
      expect(compareRecord(out), `kill@${k} (${points[k - 1]})`).toEqual(expected);
      expect(leftovers(out), `kill@${k}`).toEqual([]);
    }
  }, 240_000);

  it('pretrain --force over a base: 6 points; the old base survives whole, the rerun matches', () => {
    const args = (out: string): string[] => [
      'pretrain',
      '--preset',
      'quick',
      ...FLAGS,
      '--set',
      'seed=2',
      '--set',
      'pretrain.steps=20',
      '--set',
      'pretrain.evalEvery=10',
      '-o',
      out,
      '--force',
    ];
    const ref = join(dir, 'pretrain-ref');
    expect(covrl(args(ref)).status).toBe(0);
    const expected = sha256(join(ref, 'model.safetensors'));
    const old = sha256(join(base, 'model.safetensors'));
    const oldMeta = readFileSync(join(base, 'covrl-base.json'), 'utf8');
    const counted = join(dir, 'pretrain-count', 'base');
    cpSync(base, counted, { recursive: true });
    const points = countPoints(args(counted), 'pretrain');
    for (const k of pick(points.length, 6, 141414)) {
      const parent = join(dir, `pretrain-kill-${k}`);
      const out = join(parent, 'base');
      mkdirSync(parent);
      cpSync(base, out, { recursive: true });
      expect(covrl(args(out), `kill@${k}`).signal, `kill@${k} (${points[k - 1]})`).toBe('SIGKILL');
      // Old or new, never a mix. Between the two renames the old base is whole in its `.old`
      // copy, which the next run puts back.
      const aside = readdirSync(parent).find((d) => d.endsWith('.old'));
      const seen = existsSync(out) ? out : join(parent, aside ?? 'missing');
      const now = sha256(join(seen, 'model.safetensors'));
      if (now === old) expect(readFileSync(join(seen, 'covrl-base.json'), 'utf8')).toBe(oldMeta);
      else expect(now, `kill@${k} (${points[k - 1]})`).toBe(expected);
      const r = covrl(args(out));
      expect(r.status, r.stderr).toBe(0);
      expect(sha256(join(out, 'model.safetensors'))).toBe(expected);
      expect(leftovers(parent), `kill@${k}`).toEqual([]);
    }
  }, 180_000);
});

/** Mount a small tmpfs at `at` when this process may (root on Linux); false otherwise. */
function mountTmpfs(at: string, size: string): boolean {
  mkdirSync(at, { recursive: true });
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]).status === 0;
}

describe('full disk', () => {
  it('the error names the path; after space is freed --resume ends bit-identical', () => {
    const { expected } = trainReference();
    const mnt = join(dir, 'tmpfs');
    const mounted = mountTmpfs(mnt, '256k');
    try {
      const out = join(mnt, 'run');
      // Without a tmpfs (not root, not Linux): the same failure injected at a seeded write of a
      // checkpoint.
      const writes = trainReference()
        .points.map((label, i) => ({ label, n: i + 1 }))
        .filter((p) => p.label.includes('checkpoints'));
      const at = writes[(pick(writes.length, 1, 7)[0] as number) - 1]?.n ?? 1;
      const failed = mounted ? covrl(trainArgs(out)) : covrl(trainArgs(out), `enospc@${at}`);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(/ENOSPC/);
      expect(failed.stderr).toContain(out);
      if (mounted) spawnSync('mount', ['-o', 'remount,size=16m', mnt]);
      const r = finishTrain(out);
      expect(r.status, r.stderr).toBe(0);
      expect(runRecord(out)).toEqual(expected);
      expect(leftovers(out)).toEqual([]);
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
    }
  }, 60_000);
});

describe('corrupt files and a second writer', () => {
  it('a flipped byte in the newest checkpoint is named, and the run still ends bit-identical', () => {
    const { expected, points } = trainReference();
    // Killed right after latest.json was pointed at step 3's checkpoint.
    const step3 = points.findIndex((l) => l.startsWith('rename') && l.endsWith('step-000003'));
    const latest = points.findIndex(
      (l, i) => i > step3 && l.startsWith('rename') && l.endsWith('latest.json'),
    );
    expect(latest).toBeGreaterThan(step3);
    const out = join(dir, 'flip');
    expect(covrl(trainArgs(out), `kill@${latest + 2}`).signal).toBe('SIGKILL');
    const file = join(out, 'checkpoints', 'step-000003', 'optimizer.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const r = finishTrain(out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${file}: SHA-256 differs`);
    expect(runRecord(out)).toEqual(expected);
  }, 60_000);

  it('a second writer is refused naming the first; after its kill -9 the lock is taken over', async () => {
    const out = join(dir, 'two-writers');
    // Long enough to be running when the second one starts (and not stopped as collapsed).
    const extra = [
      '--set',
      'train.steps=400',
      '--set',
      'train.checkpointEvery=1',
      '--set',
      'train.collapsePatience=1000',
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, COVRL_BACKEND: 'wasm' };
    delete env['COVRL_FAULT'];
    const first = spawn(process.execPath, [BIN, ...trainArgs(out, extra)], {
      env,
      stdio: 'ignore',
    });
    try {
      const lock = join(out, 'covrl.lock');
      for (let i = 0; i < 300 && !existsSync(join(out, 'checkpoints', 'latest.json')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(existsSync(lock)).toBe(true);
      const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n')[0];
      const second = covrl(trainArgs(out, [...extra, '--resume']));
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`another covrl process writes here (pid ${first.pid}`);
      expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n')[0]).toBe(before);
    } finally {
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
    }
    expect(existsSync(join(out, 'covrl.lock'))).toBe(true);
    // The stale lock of the killed writer is taken over (here by a fresh run in the same place).
    rmSync(join(out, 'checkpoints'), { recursive: true, force: true });
    const r = covrl(trainArgs(out));
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(out, 'covrl.lock'))).toBe(false);
  }, 90_000);

  it('a corrupt results.json stops compare naming file and field, touching nothing', () => {
    const out = join(dir, 'corrupt-results');
    cpSync(compareReference(), out, { recursive: true });
    const results = join(out, 'results.json');
    const parsed = JSON.parse(readFileSync(results, 'utf8')) as { runs: { seed: unknown }[] };
    (parsed.runs[1] as { seed: unknown }).seed = 'one';
    const text = `${JSON.stringify(parsed, null, 2)}\n`;
    writeFileSync(results, text);
    const r = covrl(compareArgs(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /results.json: field 'runs\[1\]\.seed': expected an integer, got "one"/,
    );
    expect(readFileSync(results, 'utf8')).toBe(text);
  }, 60_000);

  it('SIGTERM saves a checkpoint, exits 130, and the run resumes to the end', async () => {
    const out = join(dir, 'sigterm');
    // The tiny run collapses at lr 0.01 after a few steps; let it run on.
    const extra = ['--set', 'train.steps=12', '--set', 'train.collapsePatience=50'];
    const env: NodeJS.ProcessEnv = { ...process.env, COVRL_BACKEND: 'wasm' };
    delete env['COVRL_FAULT'];
    const child = spawn(process.execPath, [BIN, ...trainArgs(out, extra)], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/covrl step \d+\/12/.test(err) && !child.killed) child.kill('SIGTERM');
      });
      child.once('exit', (c) => resolve(c));
    });
    expect(code, err).toBe(130);
    const log = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    expect(log).toMatch(/"kind":"interrupted"/);
    const r = finishTrain(out, extra);
    expect(r.status, r.stderr).toBe(0);
    const steps = log.split('\n').filter((l) => l.includes('"type":"step"')).length;
    expect(steps).toBeGreaterThan(0);
    const final = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"step"'))
      .map((l) => (JSON.parse(l) as { step: number }).step);
    expect(final).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 90_000);
});
