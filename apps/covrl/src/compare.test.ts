/**
 * `compare` keeps what is done: results.json and the report are rewritten after every run; a run
 * that stops on a non-finite value is recorded as failed with its reason while the others go on;
 * Ctrl-C stops the whole comparison after saving the current run's checkpoint, and rerunning the
 * same command keeps the recorded runs, resumes the interrupted one and trains the rest; runs
 * recorded from another base model are never kept.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { latestCheckpointStep } from './checkpoint.js';
import { compare } from './compare.js';
import type { CompareOptions } from './compare.js';
import { baseIdentity } from './model-io.js';
import { rebuildReport } from './report/build.js';
import type { Results } from './report/results.js';
import { randomTinyBase, TINY, useWasm } from './testing/tiny-run.js';
import type { MethodRunner } from './train/common.js';
import { applyUpdate } from './train/update.js';
import { methods } from './methods/index.js';

let dir: string;
let baseDir: string;
let restore: () => Promise<void>;

beforeAll(async () => {
  restore = await useWasm();
  dir = mkdtempSync(join(tmpdir(), 'covrl-compare-'));
  baseDir = await randomTinyBase(join(dir, 'base'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await restore();
});

const readResults = (out: string): Results =>
  JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;

const options = (out: string, extra: Partial<CompareOptions> = {}): CompareOptions => ({
  sources: { preset: 'quick', flags: { ...TINY, 'train.steps': '2' } },
  seeds: [1],
  out,
  base: baseDir,
  command: 'covrl compare (test)',
  backend: 'wasm',
  version: '0.0.0',
  log: () => undefined,
  ...extra,
});

/** A method whose second step has a NaN KL term (caught before the update). */
const diverging = (): MethodRunner => ({
  name: 'diverging',
  getState: () => null,
  setState: () => undefined,
  step: (input) =>
    Promise.resolve({
      metrics: applyUpdate(input, () => ({
        loss: tf.addN(
          [...input.model.variables().values()].map((v) => tf.sum(tf.square(v))),
        ) as tf.Scalar,
        metrics: { 'loss/pg': 0.1, 'loss/kl': input.step === 2 ? Number.NaN : 0.2 },
      })),
      samples: [],
    }),
});

describe('compare with a diverging run', () => {
  it('records the run as failed with its reason, finishes the others, writes results after each run', async () => {
    const out = join(dir, 'nan');
    const seen: Results[] = [];
    const lines: string[] = [];
    const results = await compare(
      options(out, {
        seeds: [1, 2],
        methods: ['verifree'],
        runnerFor: ({ seed }) => (seed === 1 ? diverging() : undefined),
        log: (line) => {
          lines.push(line);
          // Before each training run, results.json already holds every run recorded so far.
          if (line.startsWith('train: ')) seen.push(readResults(out));
        },
      }),
    );
    expect(results.runs.map((r) => [r.label, r.seed, r.status])).toEqual([
      ['base', 1, 'done'],
      ['base', 2, 'done'],
      ['verifree', 1, 'failed'],
      ['verifree', 2, 'done'],
    ]);
    expect(seen.map((r) => [r.runs.length, r.progress?.state])).toEqual([
      [2, 'running'],
      [3, 'running'],
    ]);
    const failed = results.runs[2];
    expect(failed?.reason).toMatch(/non-finite value NaN in 'loss\/kl' at step 2/);
    expect(failed?.curves['step']).toEqual([1]);
    expect(results.failed).toHaveLength(1);
    expect(results.interrupted).toBe(false);
    expect(lines.some((l) => l.includes('FAILED'))).toBe(true);

    const onDisk = readResults(out);
    expect(onDisk.progress).toEqual({ state: 'complete', planned: 4, recorded: 4 });
    expect(onDisk.runs[2]).toMatchObject({ status: 'failed', reason: failed?.reason });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('Runs that did not finish');
    expect(md).toMatch(
      /verifree, seed 1: \*\*failed\*\* \(non-finite value NaN in 'loss\/kl' at step 2/,
    );
    // The failed seed enters no table: verifree's row counts one seed.
    expect(md).toMatch(/\| verifree \| 1 \|/);
    // `covrl report` rebuilds the same report from results.json.
    await rebuildReport(out);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(md);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('Runs that did not finish');
  }, 120_000);
});

describe('compare and Ctrl-C', () => {
  it('stops the whole comparison, keeps what is done, and a rerun continues where it stopped', async () => {
    const out = join(dir, 'sigint');
    const listeners = process.listenerCount('SIGINT');
    const interrupting = (): MethodRunner => {
      const real = methods.verifree.runner();
      return {
        ...real,
        step: async (input) => {
          const r = await real.step(input);
          // Only the listeners see this emitted event (no signal is sent).
          if (input.step === 1) process.emit('SIGINT', 'SIGINT');
          return r;
        },
      };
    };
    const first = await compare(
      options(out, {
        methods: ['verifree', 'grpo'],
        runnerFor: ({ method }) => (method === 'verifree' ? interrupting() : undefined),
      }),
    );
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    expect(first.interrupted).toBe(true);
    expect(first.runs.map((r) => [r.label, r.status])).toEqual([
      ['base', 'done'],
      ['verifree', 'interrupted'],
    ]);
    const verifreeDir = join(out, 'runs', 'verifree-seed1');
    expect(latestCheckpointStep(join(verifreeDir, 'checkpoints'))).toBe(1);
    expect(existsSync(join(out, 'runs', 'grpo-seed1'))).toBe(false);
    expect(readResults(out).progress).toEqual({ state: 'interrupted', planned: 3, recorded: 2 });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('**Incomplete:** 2 of 3 runs');

    const lines: string[] = [];
    const second = await compare(
      options(out, { methods: ['verifree', 'grpo'], log: (l) => lines.push(l) }),
    );
    expect(second.interrupted).toBe(false);
    expect(second.runs.map((r) => [r.label, r.status])).toEqual([
      ['base', 'done'],
      ['verifree', 'done'],
      ['grpo', 'done'],
    ]);
    expect(lines).toContain('base, seed 1: kept from the earlier results.json');
    expect(
      lines.some((l) => l.startsWith('train: verifree, seed 1') && l.endsWith('(resuming)')),
    ).toBe(true);
    expect(second.runs[1]?.curves['step']).toEqual([1, 2]);
    expect(second.runs[0]?.splits).toEqual(first.runs[0]?.splits);
    expect(readResults(out).progress).toEqual({ state: 'complete', planned: 3, recorded: 3 });

    // A third run with the same settings redoes nothing.
    const third: string[] = [];
    await compare(options(out, { methods: ['verifree', 'grpo'], log: (l) => third.push(l) }));
    expect(third.filter((l) => l.includes('kept from the earlier results.json'))).toHaveLength(3);
  }, 120_000);
});

describe('compare and the base model', () => {
  /** A fast stand-in method: constant metrics, no model work. */
  const constant = (): MethodRunner => ({
    name: 'constant',
    getState: () => null,
    setState: () => undefined,
    step: () => Promise.resolve({ metrics: { 'loss/pg': 0.1, 'reward/mean': 0 }, samples: [] }),
  });

  it('records the base with every run and keeps no run recorded from another base', async () => {
    const out = join(dir, 'bases');
    const opts = (extra: Partial<CompareOptions> = {}) =>
      options(out, { methods: ['grpo'], runnerFor: () => constant(), ...extra });
    const first = await compare(opts());
    expect(first.runs.map((r) => [r.label, r.base])).toEqual([
      ['base', baseIdentity(baseDir)],
      ['grpo', baseIdentity(baseDir)],
    ]);
    expect(readResults(out).runs[1]?.base).toEqual(baseIdentity(baseDir));

    // A run whose own recorded base differs is not kept: it resumes from its checkpoint (whose
    // base is the one in use, so it goes on; all its steps are done, so it only re-evaluates).
    const edited = readResults(out);
    writeFileSync(
      join(out, 'results.json'),
      JSON.stringify({
        ...edited,
        runs: edited.runs.map((r) =>
          r.label === 'grpo'
            ? { ...r, base: { dir: join(dir, 'elsewhere'), fingerprint: null } }
            : r,
        ),
      }),
    );
    const lines: string[] = [];
    const second = await compare(opts({ log: (l) => lines.push(l) }));
    expect(lines).toContain('base, seed 1: kept from the earlier results.json');
    expect(lines.some((l) => l.startsWith('train: grpo, seed 1') && l.endsWith('(resuming)'))).toBe(
      true,
    );
    expect(second.runs[1]).toMatchObject({ status: 'done', base: baseIdentity(baseDir) });

    // Another --base on the same --out: nothing recorded is kept, and the method run's checkpoint,
    // trained from the first base, is refused naming both bases.
    const other = await randomTinyBase(join(dir, 'other-base'), 7);
    const third: string[] = [];
    await expect(compare(opts({ base: other, log: (l) => third.push(l) }))).rejects.toThrow(
      new RegExp(
        `cannot resume: the checkpoint was trained from another base model:\\n  checkpoint: ${baseDir} .*\\n  now: +${other} `,
      ),
    );
    expect(third.filter((l) => l.includes('kept from the earlier results.json'))).toEqual([]);
    expect(readResults(out).runs.map((r) => [r.label, r.base?.dir])).toEqual([['base', other]]);
  }, 120_000);
});
