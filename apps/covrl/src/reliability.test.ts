/**
 * The seven failures of issue 14, one `describe` each, in process on a tiny pretrained base (the
 * kill -9 / full-disk / second-process suite that drives the built CLI is
 * `fault-injection.test.ts`). Each test fails on the code before the fix:
 *
 * 1. a library's NaN/Inf input check inside a step is the trainer's non-finite stop, and compare
 *    records the run as failed and goes on;
 * 2. a run whose rollouts stop contributing is warned about and stopped as collapsed;
 * 3. a failed write (ENOSPC) names the path and leaves the run resumable to the same result;
 * 4. a second writer on a run directory is refused, a stale lock taken over;
 * 5. damaged `state.json` / `latest.json` / checkpoint bytes are detected, located, and resumed
 *    from the previous complete checkpoint;
 * 6. non-finite, non-integer and zero config values, loose CLI numbers, repeated seeds and
 *    methods and empty datasets are refused naming key and file;
 * 7. pretrain and data outputs are replaced only with --force and only when complete; a resume
 *    after a failed export writes the final evaluation once; temp leftovers are swept.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NonFiniteInputError } from '@covrl/utils';
import { pretrainTinyBase, TINY, tinyConfig, useWasm } from './testing/tiny-run.js';
import { train } from './train/trainer.js';
import type { TrainOptions } from './train/trainer.js';
import type { MethodRunner } from './train/common.js';
import { methodOf } from './methods/index.js';
import { compare } from './compare.js';
import type { CompareOptions } from './compare.js';
import { readLog } from './run/log.js';
import type { LogRecord } from './run/log.js';
import { CollapsedError } from './run/collapse.js';
import { LockedError } from './run/lock.js';
import { latestCheckpointStep, loadCheckpoint } from './checkpoint.js';
import { decodeConfig } from './config/decode.js';
import {
  parseMethods,
  parseSeeds,
  registerRunCommands,
  strictInt,
} from './commands/run-commands.js';
import { registerDataCommands } from './commands/data.js';
import { pretrain } from './pretrain.js';
import { setFaultPlan } from './util/fault.js';
import type { Results } from './report/results.js';

let dir: string;
let baseDir: string;
let restore: () => Promise<void>;

beforeAll(async () => {
  restore = await useWasm();
  dir = mkdtempSync(join(tmpdir(), 'covrl-reliability-'));
  baseDir = await pretrainTinyBase(join(dir, 'base'));
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await restore();
});

afterEach(() => setFaultPlan(undefined));

/** Keys whose values depend on the machine or the process (timing, tensor counts). */
const VOLATILE = /^(time|throughput|perf)\//;

/** The deterministic content of a run's log: step metrics, sample rows, evaluations. */
function runRecord(runDir: string): { steps: unknown[]; evals: unknown[]; samples: string[] } {
  const records = readLog(join(runDir, 'metrics.jsonl'));
  const clean = (m: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(m).filter(([k]) => !VOLATILE.test(k)));
  const samples = readFileSync(join(runDir, 'samples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  return {
    steps: records.flatMap((r) => (r.type === 'step' ? [[r.step, clean(r.metrics)]] : [])),
    evals: records.flatMap((r) => (r.type === 'eval' ? [[r.step, r.metrics]] : [])),
    samples,
  };
}

const events = (runDir: string): Extract<LogRecord, { type: 'event' }>[] =>
  readLog(join(runDir, 'metrics.jsonl')).flatMap((r) => (r.type === 'event' ? [r] : []));

const opts = (runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  config: tinyConfig('covrl', { 'train.steps': '3' }),
  baseDir,
  runDir,
  command: 'test',
  quiet: true,
  ...extra,
});

async function trainDisposed(o: TrainOptions): Promise<void> {
  const out = await train(o);
  out.model.dispose();
}

/** The reference: an uninterrupted 3-step covrl run. */
let reference: ReturnType<typeof runRecord> | undefined;
async function referenceRun(): Promise<ReturnType<typeof runRecord>> {
  if (reference === undefined) {
    await trainDisposed(opts(join(dir, 'reference')));
    reference = runRecord(join(dir, 'reference'));
  }
  return reference;
}

/** A runner wrapping the method's own, with `hook` run on each step's output. */
function wrapped(
  method: 'covrl' | 'grpo',
  hook: (step: number, metrics: Record<string, number>) => Record<string, number>,
): MethodRunner {
  const inner = methodOf(method).runner();
  return {
    ...inner,
    name: `wrapped-${method}`,
    attach: (i) => inner.attach?.(i) ?? [],
    init: (i) => inner.init?.(i),
    getState: () => inner.getState(),
    setState: (s) => inner.setState(s),
    step: async (input) => {
      const out = await inner.step(input);
      return { ...out, metrics: hook(input.step, out.metrics) };
    },
  };
}

const compareOptions = (out: string, extra: Partial<CompareOptions> = {}): CompareOptions => ({
  sources: { preset: 'quick', flags: { ...TINY, 'train.steps': '3' } },
  seeds: [1],
  methods: ['covrl', 'grpo'],
  out,
  base: baseDir,
  command: 'covrl compare (test)',
  backend: 'wasm',
  version: '0.0.0',
  log: () => undefined,
  ...extra,
});

describe('1. divergence is recorded as failure', () => {
  it("a library's NonFiniteInputError in a step is the non-finite stop, naming step and argument", async () => {
    const runDir = join(dir, 'case1-train');
    const runner = wrapped('covrl', (step, m) => {
      if (step === 2) throw new NonFiniteInputError('covrlLoss', 'priorLogProbs');
      return m;
    });
    await expect(trainDisposed(opts(runDir, { runner }))).rejects.toThrow(
      /non-finite input 'covrlLoss: priorLogProbs' at step 2/,
    );
    const stop = events(runDir).find((e) => e.kind === 'non-finite');
    expect(stop?.step).toBe(2);
    expect(stop?.term).toBe('covrlLoss: priorLogProbs');
    expect(stop?.message).toMatch(/last good checkpoint: step 1/);
  });

  it('compare records the run as failed, runs the others and completes results.json', async () => {
    const out = join(dir, 'case1-compare');
    const outcome = await compare(
      compareOptions(out, {
        runnerFor: ({ method }) =>
          method === 'covrl'
            ? wrapped('covrl', (step, m) => {
                if (step === 2) throw new NonFiniteInputError('covrlLoss', 'priorLogProbs');
                return m;
              })
            : undefined,
      }),
    );
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(results.progress?.state).toBe('complete');
    const covrl = results.runs.find((r) => r.label === 'covrl');
    expect(covrl?.status).toBe('failed');
    expect(covrl?.reason).toMatch(/covrlLoss: priorLogProbs/);
    expect(results.runs.find((r) => r.label === 'grpo')?.status).toBe('done');
    expect(outcome.failed.map((r) => r.label)).toEqual(['covrl']);
  });

  it('the repro (train.lr=1e30) ends with both runs recorded, none left running', async () => {
    const out = join(dir, 'case1-lr');
    const sources = { preset: 'quick', flags: { ...TINY, 'train.steps': '3', 'train.lr': '1e30' } };
    await compare(compareOptions(out, { sources }));
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    expect(results.progress?.state).toBe('complete');
    expect(results.runs.filter((r) => r.label !== 'base').map((r) => r.label)).toEqual([
      'covrl',
      'grpo',
    ]);
    for (const r of results.runs.filter((x) => x.status === 'failed')) {
      expect(r.reason).toMatch(/non-finite/);
    }
  });
});

describe('2. a collapsed run is flagged and stopped, never exported', () => {
  it('warns after 2 collapsed steps and stops at train.collapsePatience', async () => {
    const runDir = join(dir, 'case2');
    const config = tinyConfig('covrl', { 'train.steps': '6', 'train.collapsePatience': '3' });
    const runner = wrapped('covrl', (_step, m) => ({ ...m, 'rollout/valid_fraction': 0 }));
    const error = await train(opts(runDir, { config, runner })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollapsedError);
    expect((error as CollapsedError).step).toBe(3);
    const kinds = events(runDir).map((e) => `${e.kind}@${e.step}`);
    expect(kinds).toContain('collapse@2');
    expect(kinds).toContain('collapsed@3');
    expect(existsSync(join(runDir, 'model'))).toBe(false);
    // Resuming a collapsed run stops again at once, as the uninterrupted one did.
    const again = await train(opts(runDir, { config, runner, resume: true })).catch(
      (e: unknown) => e,
    );
    expect(again).toBeInstanceOf(CollapsedError);
    expect(existsSync(join(runDir, 'model'))).toBe(false);
  });

  it('zero gradient at a non-zero learning rate counts as collapsed', async () => {
    const runDir = join(dir, 'case2-grad');
    const config = tinyConfig('covrl', { 'train.steps': '4', 'train.collapsePatience': '2' });
    const runner = wrapped('covrl', (_step, m) => ({ ...m, 'grad/norm': 0 }));
    await expect(train(opts(runDir, { config, runner }))).rejects.toThrow(/zero gradient/);
  });

  it('compare records a collapsed run as failed', async () => {
    const out = join(dir, 'case2-compare');
    await compare(
      compareOptions(out, {
        methods: ['covrl'],
        sources: {
          preset: 'quick',
          flags: { ...TINY, 'train.steps': '3', 'train.collapsePatience': '2' },
        },
        runnerFor: () => wrapped('covrl', (_s, m) => ({ ...m, 'rollout/valid_fraction': 0 })),
      }),
    );
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    const run = results.runs.find((r) => r.label === 'covrl');
    expect(run?.status).toBe('failed');
    expect(run?.reason).toMatch(/collapsed/);
  });
});

describe('3. failed writes name the path and lose nothing', () => {
  it('ENOSPC at a checkpoint write names the file; resuming gives the uninterrupted result', async () => {
    const ref = await referenceRun();
    const runDir = join(dir, 'case3');
    // Point 1 is metrics.jsonl's start record; later points fall in step 2's checkpoint.
    setFaultPlan('enospc@12');
    const error = await trainDisposed(opts(runDir)).catch((e: unknown) => e);
    setFaultPlan(undefined);
    expect(String(error)).toMatch(/ENOSPC/);
    expect(String(error)).toMatch(new RegExp(runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const resume = latestCheckpointStep(join(runDir, 'checkpoints')) !== undefined;
    await trainDisposed(opts(runDir, { resume }));
    expect(runRecord(runDir)).toEqual(ref);
  });
});

describe('4. one writer per run directory', () => {
  it('refuses a second writer naming its pid and host, and takes over a stale lock', async () => {
    const runDir = join(dir, 'case4');
    mkdirSync(runDir, { recursive: true });
    const lock = join(runDir, 'covrl.lock');
    const owner = { pid: process.ppid, host: hostname(), startedAt: 'now', command: 'covrl train' };
    writeFileSync(lock, JSON.stringify(owner));
    const error = await trainDisposed(opts(runDir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedError);
    expect(String(error)).toMatch(new RegExp(`pid ${process.ppid} on ${hostname()}`));
    expect(readdirSync(runDir)).toEqual(['covrl.lock']);
    // A lock whose process is gone (a kill -9) is stale: the next run takes it over.
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    writeFileSync(lock, JSON.stringify({ ...owner, pid: dead }));
    await trainDisposed(opts(runDir, { config: tinyConfig('covrl', { 'train.steps': '1' }) }));
    expect(existsSync(lock)).toBe(false);
  });
});

describe('5. state files are decoded, checkpoints verified', () => {
  it("'step': 'ten' in state.json falls back to the previous checkpoint, same result", async () => {
    const ref = await referenceRun();
    const runDir = join(dir, 'case5-state');
    await trainDisposed(opts(runDir, { stopAfter: 2 }));
    const state = join(runDir, 'checkpoints', 'step-000002', 'state.json');
    writeFileSync(state, readFileSync(state, 'utf8').replace(/"step": 2/, '"step": "ten"'));
    const ckpt = await loadCheckpoint(join(runDir, 'checkpoints'));
    expect(ckpt?.state.step).toBe(1);
    expect(ckpt?.warnings.join('\n')).toMatch(
      /step-000002\/state.json: (\d+ bytes, the manifest says|SHA-256 differs)/,
    );
    for (const t of [
      ...Object.values(ckpt?.weights ?? {}),
      ...Object.values(ckpt?.optimizer ?? {}),
    ])
      t.dispose();
    await trainDisposed(opts(runDir, { resume: true }));
    expect(runRecord(runDir)).toEqual(ref);
    expect(events(runDir).some((e) => /skipped the checkpoint/.test(e.message))).toBe(true);
  });

  it('an unparsable latest.json is located and the step directories still resume', async () => {
    const ref = await referenceRun();
    const runDir = join(dir, 'case5-latest');
    await trainDisposed(opts(runDir, { stopAfter: 2 }));
    const latest = join(runDir, 'checkpoints', 'latest.json');
    writeFileSync(latest, '{"step":');
    expect(() => latestCheckpointStep(join(runDir, 'checkpoints'))).toThrow(
      /latest.json: not valid JSON/,
    );
    const ckpt = await loadCheckpoint(join(runDir, 'checkpoints'));
    expect(ckpt?.state.step).toBe(2);
    expect(ckpt?.warnings.join('\n')).toMatch(/latest.json: not valid JSON/);
    for (const t of [
      ...Object.values(ckpt?.weights ?? {}),
      ...Object.values(ckpt?.optimizer ?? {}),
    ])
      t.dispose();
    await trainDisposed(opts(runDir, { resume: true }));
    expect(runRecord(runDir)).toEqual(ref);
  });

  it('flipped bytes in each checkpoint file are detected, naming the file', async () => {
    const runDir = join(dir, 'case5-bytes');
    await trainDisposed(opts(runDir, { stopAfter: 2 }));
    const step2 = join(runDir, 'checkpoints', 'step-000002');
    for (const file of readdirSync(step2).filter((f) => f !== 'manifest.json')) {
      const path = join(step2, file);
      const original = readFileSync(path);
      const flipped = Buffer.from(original);
      const at = Math.floor(flipped.length / 2);
      flipped[at] = (flipped[at] as number) ^ 0x01;
      writeFileSync(path, flipped);
      const ckpt = await loadCheckpoint(join(runDir, 'checkpoints'));
      expect(ckpt?.state.step, file).toBe(1);
      expect(ckpt?.warnings.join('\n')).toContain(`${path}: SHA-256 differs`);
      for (const t of [
        ...Object.values(ckpt?.weights ?? {}),
        ...Object.values(ckpt?.optimizer ?? {}),
      ])
        t.dispose();
      writeFileSync(path, original);
    }
  });
});

describe('NaN injected into the weights mid-run', () => {
  it('stops at the next step naming the step, keeps the clean checkpoint, resumes bit-identical', async () => {
    const ref = await referenceRun();
    const runDir = join(dir, 'nan-weights');
    const inner = methodOf('covrl').runner();
    const poisoned: MethodRunner = {
      ...inner,
      name: 'nan-weights',
      attach: (i) => inner.attach?.(i) ?? [],
      init: (i) => inner.init?.(i),
      getState: () => inner.getState(),
      setState: (st) => inner.setState(st),
      step: async (input) => {
        if (input.step === 3) {
          // A NaN in one weight, as an overflow would leave it, before step 3 runs.
          const [, v] = [...input.model.variables()][0] as [string, tf.Variable];
          const poisonedValue = tf.tidy(() => tf.fill(v.shape, Number.NaN));
          v.assign(poisonedValue);
          poisonedValue.dispose();
        }
        return inner.step(input);
      },
    };
    const error = await trainDisposed(opts(runDir, { runner: poisoned })).catch((e: unknown) => e);
    expect(String(error)).toMatch(/at step 3/);
    const stop = events(runDir).find((e) => e.kind === 'non-finite');
    expect(stop?.step).toBe(3);
    expect(stop?.message).toMatch(/last good checkpoint: step 2/);
    expect(existsSync(join(runDir, 'model'))).toBe(false);
    // Step 2's checkpoint was saved before the poison: it verifies and resumes to the same end.
    await trainDisposed(opts(runDir, { resume: true }));
    const got = runRecord(runDir) as { steps: unknown[]; evals: unknown[]; samples: string[] };
    expect(got).toEqual(ref);
  });
});

describe('6. values that should never pass decoding', () => {
  const decodeErrors = (flags: Record<string, string>, file?: string): string => {
    const r = decodeConfig({ preset: 'quick', flags, ...(file !== undefined ? { file } : {}) });
    return E.isLeft(r) ? r.left.join('\n') : '';
  };

  it('refuses 1e999 and .inf in config files, naming key and file', () => {
    const json = join(dir, 'inf.json');
    writeFileSync(json, '{"train": {"lr": 1e999}}');
    expect(decodeErrors({}, json)).toMatch(
      new RegExp(`${json}: 'train.lr' must be a finite number`),
    );
    const yaml = join(dir, 'inf.yaml');
    writeFileSync(yaml, 'train:\n  gradClip: .inf\n');
    expect(decodeErrors({}, yaml)).toMatch(/inf.yaml: 'train.gradClip' must be a finite number/);
  });

  it('refuses seed=0.5 and train.gradClip=0, naming key and where it was set', () => {
    expect(decodeErrors({ seed: '0.5' })).toMatch(
      /'seed' must be an integer ≥ 0, got 0.5 \(set by --set seed\)/,
    );
    expect(decodeErrors({ 'train.gradClip': '0' })).toMatch(/'train.gradClip' must be > 0/);
    const file = join(dir, 'clip.json');
    writeFileSync(file, '{"train": {"gradClip": 0}}');
    expect(decodeErrors({}, file)).toMatch(
      new RegExp(`'train.gradClip' must be > 0, got 0 \\(set by ${file}\\)`),
    );
  });

  it('parses -n, -k, --seeds and --methods strictly and refuses repeats', () => {
    expect(() => strictInt('-n', 1)('0')).toThrow(/-n must be an integer ≥ 1, got '0'/);
    expect(() => strictInt('-n', 1)('abc')).toThrow(/got 'abc'/);
    expect(() => strictInt('-k', 1)('-3')).toThrow(/got '-3'/);
    expect(strictInt('-n', 1)('12')).toBe(12);
    expect(() => parseSeeds('1.5,2x')).toThrow(/'1.5' is not a non-negative integer/);
    expect(() => parseSeeds('1,1')).toThrow(/'1' is listed twice/);
    expect(parseSeeds('1,2')).toEqual([1, 2]);
    expect(() => parseMethods('covrl,covrl')).toThrow(/'covrl' is listed twice/);
  });

  it('eval refuses -n 0 and an empty dataset; a broken Parquet file is named', async () => {
    const run = async (...args: string[]): Promise<string> => {
      const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
      registerRunCommands(program, { out: () => undefined, err: () => undefined });
      registerDataCommands(program, { out: () => undefined, err: () => undefined });
      try {
        await program.parseAsync(args, { from: 'user' });
        return 'ok';
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      } finally {
        process.exitCode = 0;
      }
    };
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    expect(await run('eval', '-b', baseDir, '-d', empty, '-n', '0')).toMatch(
      /-n must be an integer ≥ 1/,
    );
    expect(await run('eval', '-b', baseDir, '-d', empty)).toMatch(/empty.jsonl: no records/);
    expect(await run('data', 'validate', empty)).toMatch(/empty.jsonl: no records/);
    const broken = join(dir, 'broken.parquet');
    writeFileSync(broken, 'PAR1 not really parquet');
    expect(await run('data', 'validate', broken)).toMatch(/broken.parquet/);
    expect(await run('compare', '--seeds', '1,1', '-o', join(dir, 'x'))).toMatch(/listed twice/);
  });
});

describe('7. outputs replaced only when complete; nothing written twice', () => {
  it('pretrain refuses an existing base without --force and keeps it when the new one fails', async () => {
    const out = join(dir, 'case7-base');
    mkdirSync(out);
    writeFileSync(join(out, 'covrl-base.json'), '{}');
    const config = tinyConfig('covrl', { 'pretrain.steps': '5' });
    await expect(pretrain({ config, out, command: 't', quiet: true })).rejects.toThrow(
      /already exists; pass --force/,
    );
    // With --force, a failure before completion (full disk at the export) leaves the old base.
    setFaultPlan('enospc@3');
    await expect(pretrain({ config, out, command: 't', quiet: true, force: true })).rejects.toThrow(
      /ENOSPC/,
    );
    setFaultPlan(undefined);
    expect(readFileSync(join(out, 'covrl-base.json'), 'utf8')).toBe('{}');
    expect(readdirSync(join(dir)).filter((d) => d.startsWith('.case7-base'))).toEqual([]);
  });

  it('data import and generate refuse an existing --out without --force', async () => {
    const program = new Command().exitOverride();
    registerDataCommands(program, { out: () => undefined, err: () => undefined });
    const out = join(dir, 'suite');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    await expect(
      program.parseAsync(['data', 'generate', '--n', '2', '--seed', '1', '--out', out], {
        from: 'user',
      }),
    ).rejects.toThrow(/already exists; pass --force/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    process.exitCode = 0;
  });

  it('a failed export, then resume: one final evaluation, the export done, leftovers swept', async () => {
    const runDir = join(dir, 'case7-export');
    const config = tinyConfig('covrl', { 'train.steps': '2' });
    // Leftovers of killed processes (pid 2^22 + 1 is above Linux's pid_max default).
    mkdirSync(join(runDir, '.model.4194305.tmp'), { recursive: true });
    writeFileSync(join(runDir, '.metrics.jsonl.4194305.0a1b2c3d.tmp'), 'torn');
    // Fail the export's first write: after the final evaluation is logged.
    let points = 0;
    setFaultPlan('count:' + join(dir, 'case7-count.txt'));
    await trainDisposed(opts(join(dir, 'case7-count'), { config }));
    setFaultPlan(undefined);
    const labels = readFileSync(join(dir, 'case7-count.txt'), 'utf8').trim().split('\n');
    points = labels.findIndex((l) => l.includes('/.model.')) + 1;
    expect(points).toBeGreaterThan(0);
    setFaultPlan(`enospc@${points}`);
    await expect(trainDisposed(opts(runDir, { config }))).rejects.toThrow(/ENOSPC/);
    setFaultPlan(undefined);
    expect(existsSync(join(runDir, 'model'))).toBe(false);
    await trainDisposed(opts(runDir, { config, resume: true }));
    const finals = readLog(join(runDir, 'metrics.jsonl')).filter(
      (r) => r.type === 'eval' && r.final === true,
    );
    expect(finals).toHaveLength(1);
    expect(existsSync(join(runDir, 'model', 'model.safetensors'))).toBe(true);
    expect(readdirSync(runDir).filter((d) => d.startsWith('.'))).toEqual([]);
  });
});
