/**
 * `covrl compare --jobs 2` (the built CLI, as a user runs it): every run trained in a worker
 * process is bit-identical to the same run trained in-process one after another (metrics,
 * evaluations, exported weights); a Ctrl-C stops the workers at a checkpoint, and rerunning the
 * command finishes the comparison with the same results.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/covrl.js', import.meta.url));
const DIST_WORKER = fileURLToPath(new URL('../dist/compare-worker.js', import.meta.url));
const FLAGS = {
  'train.steps': '3',
  'train.questionsPerStep': '2',
  'train.groupSize': '4',
  'train.evalEvery': '100',
  'train.checkpointEvery': '1',
  'eval.maxQuestions': '4',
  'eval.samples': '1',
};
const ARGS = [
  'compare',
  '--preset',
  'quick',
  '--seeds',
  '1',
  '--methods',
  'grpo,covrl',
  ...Object.entries(FLAGS).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
];
const ENV = { ...process.env, COVRL_BACKEND: 'wasm' };

let dir: string;
beforeAll(() => {
  if (!existsSync(DIST_WORKER)) {
    throw new Error(
      `${DIST_WORKER} is missing: run \`npm run build\` first (the workers run the built app)`,
    );
  }
  dir = mkdtempSync(join(tmpdir(), 'covrl-jobs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function covrl(args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: ENV,
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { status: r.status, stderr: r.stderr };
}

/** Everything of a comparison that must not depend on how it was scheduled. */
function outcome(out: string): unknown {
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    runs: {
      label: string;
      seed: number;
      status?: string;
      splits: unknown;
      curves: Record<string, unknown>;
    }[];
  };
  const runs = results.runs
    .map((r) => ({
      label: r.label,
      seed: r.seed,
      status: r.status,
      splits: r.splits,
      curves: Object.fromEntries(
        Object.entries(r.curves).filter(([k]) => !/^(time|throughput|perf)\//.test(k)),
      ),
    }))
    .sort((a, b) => `${a.label}${a.seed}`.localeCompare(`${b.label}${b.seed}`));
  const weights = readdirSync(join(out, 'runs'))
    .sort()
    .map((run) => {
      const file = join(out, 'runs', run, 'model', 'model.safetensors');
      return [run, createHash('sha256').update(readFileSync(file)).digest('hex')];
    });
  return { runs, weights };
}

describe('covrl compare --jobs 2', () => {
  it('trains each run in a worker, bit-identical to the sequential comparison', () => {
    const seq = covrl([...ARGS, '-o', join(dir, 'seq')]);
    expect(seq.status, seq.stderr).toBe(0);
    const par = covrl([...ARGS, '-o', join(dir, 'par'), '--jobs', '2']);
    expect(par.status, par.stderr).toBe(0);
    expect(par.stderr).toMatch(/\[worker\]/);
    expect(outcome(join(dir, 'par'))).toEqual(outcome(join(dir, 'seq')));
  }, 480_000);

  it('Ctrl-C stops the workers at a checkpoint; the rerun finishes with the same results', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, [BIN, ...ARGS, '-o', out, '--jobs', '2'], { env: ENV });
    let stderr = '';
    const started = new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if ((stderr.match(/\[worker\]/g) ?? []).length >= 2) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    await started;
    child.kill('SIGINT');
    const code = await exited;
    // Interrupted (130), or finished before the signal landed (0): both leave a consistent run.
    expect([0, 130], stderr).toContain(code);
    const again = covrl([...ARGS, '-o', out, '--jobs', '2']);
    expect(again.status, again.stderr).toBe(0);
    expect(outcome(out)).toEqual(outcome(join(dir, 'seq')));
  }, 480_000);
});
