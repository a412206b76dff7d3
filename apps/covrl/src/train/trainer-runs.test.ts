/**
 * What a run leaves on disk and how it continues, on a tiny pretrained model: a finished run
 * exports `<run>/model` and `covrl eval` reads it (and checkpoints, and unfinished run
 * directories) through the command code; the log starts with the resolved config and
 * `samples.jsonl` holds each step's completions with their reward terms; `--resume` refuses a
 * missing checkpoint, a fresh start over an existing run, a changed config (naming the keys) and
 * another base model than the one the checkpoint records (naming both), allows the keys that do
 * not change training, and drops a log line torn by a killed process; RLPR resumes exactly across its std-filter
 * warm-up (the EMA and the frozen baselines are restored); a non-finite term stops a run before
 * the update, logs the stop as an event and keeps the last good checkpoint.
 */
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Config } from '../config/schema.js';
import { readLog } from '../run/log.js';
import type { LogRecord } from '../run/log.js';
import { latestCheckpointStep } from '../checkpoint.js';
import { baseIdentity, loadBase } from '../model-io.js';
import { buildTask } from '../task.js';
import { registerRunCommands } from '../commands/run-commands.js';
import {
  pretrainTinyBase,
  randomTinyBase,
  TINY,
  tinyConfig,
  useWasm,
} from '../testing/tiny-run.js';
import { train } from './trainer.js';
import type { MethodRunner } from './common.js';
import { applyUpdate } from './update.js';
import { methods } from '../methods/index.js';

let dir: string;
let baseDir: string;
let restore: () => Promise<void>;

beforeAll(async () => {
  restore = await useWasm();
  dir = mkdtempSync(join(tmpdir(), 'covrl-runs-'));
  baseDir = await pretrainTinyBase(join(dir, 'base'));
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await restore();
});

const stepRecords = (runDir: string) =>
  readLog(join(runDir, 'metrics.jsonl')).filter(
    (r): r is Extract<LogRecord, { type: 'step' }> => r.type === 'step',
  );

const weightsOf = (vars: ReadonlyMap<string, tf.Variable>): Record<string, number[]> =>
  Object.fromEntries([...vars].map(([k, v]) => [k, Array.from(v.dataSync())]));

/** `covrl <args>` through the real command code, capturing what it prints. */
async function cli(...args: string[]): Promise<{ out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().option('--backend <name>');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerRunCommands(program, { out: (l) => out.push(l), err: (l) => err.push(l) });
  await program.parseAsync(['node', 'covrl', '--backend', 'wasm', ...args]);
  return { out, err };
}

/** The tiny flags as `--set` arguments (the eval command decodes the same config). */
const setFlags = (extra: Record<string, string> = {}): string[] =>
  Object.entries({ ...TINY, ...extra }).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

describe('a finished run', () => {
  let config: Config;
  let runDir: string;
  let data: string;
  const flags = (): string[] => setFlags({ 'train.steps': '2', 'data.difficulty': '2' });

  beforeAll(async () => {
    // Difficulty 2 leaves questions for every split at this tiny size (at 1, in-domain is empty).
    config = tinyConfig('covrl', { 'train.steps': '2', 'data.difficulty': '2' });
    runDir = join(dir, 'finished');
    const out = await train({
      config,
      baseDir,
      runDir,
      command: 'covrl train (test)',
      quiet: true,
    });
    expect(out.modelDir).toBe(join(runDir, 'model'));
    // The export holds exactly the trained weights.
    const exported = await loadBase(join(runDir, 'model'), 0);
    expect(weightsOf(exported.model.variables())).toEqual(weightsOf(out.model.variables()));
    exported.model.dispose();
    out.model.dispose();
    // A small dataset of both domains for the eval command.
    const task = buildTask(config);
    const rows = [
      ...(task.splits['in-domain'] ?? []).slice(0, 2),
      ...(task.splits['transfer'] ?? []).slice(0, 2),
    ];
    data = join(dir, 'eval.jsonl');
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }, 120_000);

  it('exports <run>/model in the base layout, with its provenance', () => {
    for (const f of ['config.json', 'model.safetensors', 'covrl-char-tokenizer.json']) {
      expect(existsSync(join(runDir, 'model', f))).toBe(true);
    }
    const meta = JSON.parse(readFileSync(join(runDir, 'model', 'covrl-base.json'), 'utf8')) as {
      method: string;
      step: number;
      trainedFrom: string;
      eval: Record<string, number>;
    };
    expect(meta).toMatchObject({ method: 'covrl', step: 2, trainedFrom: baseDir });
    expect(Number.isFinite(meta.eval['eval/answer_logprob'])).toBe(true);
    // No temporary directories are left beside it.
    const records = readLog(join(runDir, 'metrics.jsonl'));
    expect(records.at(-1)).toMatchObject({ type: 'event', kind: 'exported' });
  });

  it('logs eval/answer_logprob (in-domain and per split) with the final evaluation', () => {
    const ev = readLog(join(runDir, 'metrics.jsonl')).filter((r) => r.type === 'eval');
    const final = ev.at(-1) as Extract<LogRecord, { type: 'eval' }>;
    for (const key of [
      'eval/accuracy',
      'eval/answer_logprob',
      'eval/in-domain/answer_logprob',
      'eval/transfer/answer_logprob',
      'eval/in-domain/avg_at_k',
    ]) {
      expect(Number.isFinite(final.metrics[key])).toBe(true);
    }
    expect(final.metrics['eval/answer_logprob']).toBeLessThan(0);
    expect(final.metrics['eval/answer_logprob']).toBe(
      final.metrics['eval/in-domain/answer_logprob'],
    );
  });

  it('covrl eval --base <run> evaluates the export: per family and domain, avg@k and answer log-likelihood', async () => {
    const { out } = await cli('eval', '--base', runDir, '--data', data, '-k', '2', ...flags());
    const r = JSON.parse(out.join('\n')) as Record<string, unknown> & {
      greedy: { total: number };
      sampled: { total: number; k: number };
      sampledByFamily: Record<string, { total: number }>;
      sampledByDomain: Record<string, { total: number }>;
      byDomain: Record<string, { total: number }>;
      answerLogProb: number;
    };
    expect(r['model']).toBe(join(runDir, 'model'));
    expect(r.greedy.total).toBe(4);
    expect(r.sampled).toMatchObject({ total: 8, k: 2 });
    expect(Object.keys(r.sampledByFamily).sort()).toEqual(['addition', 'string-ops']);
    expect(r.sampledByFamily['addition']?.total).toBe(4);
    expect(Object.keys(r.sampledByDomain).sort()).toEqual(['math', 'non-math']);
    expect(Object.keys(r.byDomain).sort()).toEqual(['math', 'non-math']);
    expect(r.answerLogProb).toBeLessThan(0);
  });

  it('covrl eval also takes a checkpoint directory and an unfinished run (its newest checkpoint)', async () => {
    const ckpt = join(runDir, 'checkpoints', 'step-000002');
    const a = await cli('eval', '--base', ckpt, '--data', data, '-k', '1', ...flags());
    expect((JSON.parse(a.out.join('\n')) as { model: string }).model).toBe(ckpt);
    // The checkpoint's weights are the exported model's.
    const fromCkpt = await loadBase(ckpt, 0);
    const fromExport = await loadBase(join(runDir, 'model'), 0);
    expect(weightsOf(fromCkpt.model.variables())).toEqual(weightsOf(fromExport.model.variables()));
    fromCkpt.model.dispose();
    fromExport.model.dispose();

    const partial = join(dir, 'partial');
    const first = await train({
      config,
      baseDir,
      runDir: partial,
      command: 't',
      quiet: true,
      stopAfter: 1,
    });
    first.model.dispose();
    expect(existsSync(join(partial, 'model'))).toBe(false);
    const b = await cli('eval', '--base', partial, '--data', data, '-k', '1', ...flags());
    expect((JSON.parse(b.out.join('\n')) as { model: string }).model).toBe(
      join(partial, 'checkpoints', 'step-000001'),
    );
    expect(b.err.join('\n')).toContain(`model: ${join(partial, 'checkpoints', 'step-000001')}`);
    await expect(cli('eval', '--base', join(dir, 'nothing-here'), '--data', data)).rejects.toThrow(
      /model directory not found/,
    );
  }, 120_000);

  it('eval --help says what --base accepts', async () => {
    const help: string[] = [];
    const program = new Command();
    program.exitOverride();
    program.configureOutput({ writeOut: (s) => help.push(s), writeErr: (s) => help.push(s) });
    registerRunCommands(program, { out: () => undefined, err: () => undefined });
    await expect(program.parseAsync(['node', 'covrl', 'eval', '--help'])).rejects.toThrow();
    const text = help.join('').replace(/\s+/g, ' ');
    expect(text).toContain('run directory');
    expect(text).toContain('checkpoint');
    expect(text).toContain('<run>/model');
    expect(text).toContain('per domain');
  });

  it('the run log starts with the resolved config and the command', () => {
    const first = readLog(join(runDir, 'metrics.jsonl'))[0];
    expect(first).toMatchObject({ type: 'config', command: 'covrl train (test)' });
    expect((first as { config: unknown }).config).toEqual(JSON.parse(JSON.stringify(config)));
  });

  it('samples.jsonl holds logSamples completions per step with their reward terms', () => {
    const lines = readFileSync(join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n');
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const n = config.train.logSamples;
    expect(n).toBeGreaterThan(0);
    expect(rows.map((r) => r['step'])).toEqual([
      ...Array.from({ length: n }, () => 1),
      ...Array.from({ length: n }, () => 2),
    ]);
    const train = new Map(buildTask(config).train.map((x) => [x.question, x.answer]));
    for (const r of rows) {
      // CoVRL's rows: the trace with its source and flags, and its reward terms.
      for (const key of ['question', 'answer', 'source', 'trace', 'finishReason', 'wellFormed']) {
        expect(r).toHaveProperty(key);
      }
      for (const key of ['reward', 'advantage']) expect(r).toHaveProperty(key);
      expect(train.get(r['question'] as string)).toBe(r['answer']);
      expect(['prior', 'posterior']).toContain(r['source']);
      expect(typeof r['trace']).toBe('string');
      expect(Number.isFinite(r['reward'])).toBe(true);
      expect(Number.isFinite(r['advantage'])).toBe(true);
    }
  });
});

/** A fast stand-in method: constant metrics, no model work. */
const constantRunner = (): MethodRunner => ({
  name: 'constant',
  getState: () => ({}),
  setState: () => undefined,
  step: () => Promise.resolve({ metrics: { 'loss/pg': 0.1, 'reward/mean': 0 }, samples: [] }),
});

describe('resume refuses what would not continue the run exactly', () => {
  const run = (config: Config, runDir: string, extra: Partial<Parameters<typeof train>[0]> = {}) =>
    train({
      config,
      baseDir,
      runDir,
      command: 't',
      quiet: true,
      finalEval: false,
      runner: constantRunner(),
      ...extra,
    }).then((o) => {
      o.model.dispose();
      return o;
    });

  it('--resume without a checkpoint is an error naming the directory', async () => {
    const runDir = join(dir, 'never-started');
    await expect(run(tinyConfig('grpo'), runDir, { resume: true })).rejects.toThrow(
      `${join(runDir, 'checkpoints')}: no checkpoint to resume from`,
    );
    expect(existsSync(runDir)).toBe(false);
  });

  it('a fresh start over a run that has checkpoints is refused', async () => {
    const config = tinyConfig('grpo');
    const runDir = join(dir, 'twice');
    await run(config, runDir, { stopAfter: 1 });
    await expect(run(config, runDir)).rejects.toThrow(
      /already holds a run \(checkpoint at step 1\); pass --resume/,
    );
  });

  it('a changed training key is refused, naming each key, both values and the flags to pass', async () => {
    const runDir = join(dir, 'changed');
    await run(tinyConfig('covrl'), runDir, { stopAfter: 1 });
    const error = await run(
      tinyConfig('covrl', { 'train.lr': '0.02', 'covrl.alpha': '0.25' }),
      runDir,
      { resume: true },
    ).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    const msg = (error as Error).message;
    expect(msg).toContain('cannot resume');
    expect(msg).toContain('covrl.alpha: checkpoint 0.5, now 0.25');
    expect(msg).toContain('train.lr: checkpoint 0.01, now 0.02');
    expect(msg).toContain('--set covrl.alpha=0.5 --set train.lr=0.01');
    expect(stepRecords(runDir)).toHaveLength(1); // nothing was run or logged
  });

  it('eval settings, cadence and (with a constant schedule) the total may change', async () => {
    const flags = { 'train.lrSchedule': 'constant', 'train.steps': '3' };
    const runDir = join(dir, 'extended');
    await run(tinyConfig('grpo', flags), runDir, { stopAfter: 2 });
    const out = await run(
      tinyConfig('grpo', { ...flags, 'train.steps': '4', 'eval.maxQuestions': '1' }),
      runDir,
      { resume: true },
    );
    expect(out.steps).toBe(4);
    expect(stepRecords(runDir).map((r) => r.step)).toEqual([1, 2, 3, 4]);
    const event = readLog(join(runDir, 'metrics.jsonl')).find(
      (r) => r.type === 'event' && r.kind === 'resumed',
    ) as { message: string };
    expect(event.message).toContain('eval.maxQuestions 2 → 1');
    expect(event.message).toContain('train.steps 3 → 4');
  });

  it('records the base in each checkpoint and refuses to resume from another, naming both and the flag', async () => {
    const runDir = join(dir, 'other-base');
    await run(tinyConfig('grpo'), runDir, { stopAfter: 1 });
    const state = JSON.parse(
      readFileSync(join(runDir, 'checkpoints', 'step-000001', 'state.json'), 'utf8'),
    ) as { base: unknown };
    expect(state.base).toEqual(baseIdentity(baseDir));
    expect(state.base).toMatchObject({ dir: baseDir, fingerprint: expect.any(String) });
    // Another base of the same config (its fingerprint is the same: only the directory differs).
    const other = await randomTinyBase(join(dir, 'another-base'));
    const error = await run(tinyConfig('grpo'), runDir, { resume: true, baseDir: other }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    const msg = (error as Error).message;
    expect(msg).toContain('cannot resume: the checkpoint was trained from another base model');
    expect(msg).toContain(`checkpoint: ${baseDir} (fingerprint `);
    expect(msg).toContain(`now:        ${other} (fingerprint `);
    expect(msg).toContain(`Pass --base ${baseDir} to continue it`);
    expect(stepRecords(runDir)).toHaveLength(1); // nothing was run or logged
    // The recorded base continues it, and the run reports it.
    const out = await run(tinyConfig('grpo'), runDir, { resume: true });
    expect(out.steps).toBe(3);
    expect(out.base).toEqual(baseIdentity(baseDir));
  });

  it('refuses a base replaced in place (same directory, another fingerprint)', async () => {
    const moved = await randomTinyBase(join(dir, 'replaced-base'));
    const runDir = join(dir, 'replaced');
    await run(tinyConfig('grpo'), runDir, { stopAfter: 1, baseDir: moved });
    const metaPath = join(moved, 'covrl-base.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(metaPath, JSON.stringify({ ...meta, fingerprint: 'another pretraining' }));
    await expect(run(tinyConfig('grpo'), runDir, { resume: true, baseDir: moved })).rejects.toThrow(
      `The base at ${moved} was replaced after the run started`,
    );
  });

  it('resumes a checkpoint that records no base (older covrl) with a warning, and a torn log line', async () => {
    const runDir = join(dir, 'no-base-recorded');
    await run(tinyConfig('grpo'), runDir, { stopAfter: 1 });
    const statePath = join(runDir, 'checkpoints', 'step-000001', 'state.json');
    const { base: _base, ...older } = JSON.parse(readFileSync(statePath, 'utf8')) as {
      base: unknown;
    };
    writeFileSync(statePath, JSON.stringify(older));
    // Older covrl wrote no manifest (a manifest would now flag the edited state.json).
    rmSync(join(runDir, 'checkpoints', 'step-000001', 'manifest.json'));
    // Killed while appending step 2's record.
    appendFileSync(join(runDir, 'metrics.jsonl'), '{"type":"step","time":"2026-');
    const out = await run(tinyConfig('grpo'), runDir, { resume: true });
    expect(out.steps).toBe(3);
    const messages = readLog(join(runDir, 'metrics.jsonl')).flatMap((r) =>
      r.type === 'event' ? [r.message] : [],
    );
    expect(messages).toContainEqual(expect.stringMatching(/records no base model.*not checked/));
    expect(messages).toContainEqual(
      expect.stringMatching(/metrics\.jsonl:\d+: dropped a torn last record/),
    );
    expect(stepRecords(runDir).map((r) => r.step)).toEqual([1, 2, 3]);
  });

  it('a new total under a cosine schedule is refused: the steps done would have had other rates', async () => {
    const flags = { 'train.lrSchedule': 'cosine', 'train.warmupFraction': '0', 'train.steps': '3' };
    const runDir = join(dir, 'cosine');
    await run(tinyConfig('covrl', flags), runDir, { stopAfter: 2 });
    await expect(
      run(tinyConfig('covrl', { ...flags, 'train.steps': '6' }), runDir, { resume: true }),
    ).rejects.toThrow(/train\.steps: checkpoint 3, now 6[\s\S]*learning rate of step 2/);
  });
});

describe('RLPR resume', () => {
  // The std filter records from step 2, sets its EMA at step 3 and filters from there; β = 1
  // and a fast decay make its decisions and EMA depend on the saved state. A small learning rate
  // and temperature 0.7 keep the tiny model's rewards varied (at lr 0.01 they collapse to 0).
  const config = tinyConfig('rlpr', {
    'train.steps': '5',
    'train.groupSize': '4',
    'train.questionsPerStep': '2',
    'train.lr': '0.001',
    'train.temperature': '0.7',
    'rlpr.emaStartStep': '2',
    'rlpr.filterStartStep': '3',
    'rlpr.stdFilterBeta': '1',
    'rlpr.stdFilterDecay': '0.5',
    'rlpr.maxGenerationRounds': '2',
  });
  const base = () => ({ config, baseDir, command: 't', quiet: true, finalEval: false }) as const;
  const metrics = (runDir: string) => stepRecords(runDir).map((r) => r.metrics);
  let straightDir: string;

  it('N straight steps equal k steps, resume, N-k steps across the std-filter warm-up', async () => {
    straightDir = join(dir, 'rlpr-straight');
    const straight = await train({ ...base(), runDir: straightDir });
    const runDir = join(dir, 'rlpr-resumed');
    const first = await train({ ...base(), runDir, stopAfter: 3 });
    first.model.dispose();
    // The saved method state: the EMA in force and the frozen r′ of the whole training pool.
    const state = JSON.parse(
      readFileSync(join(runDir, 'checkpoints', 'step-000003', 'state.json'), 'utf8'),
    ) as { methodState: { filter: { ema: number; recorded: number[] }; baseline: object } };
    expect(state.methodState.filter.ema).toBeGreaterThan(0);
    expect(state.methodState.filter.recorded).toHaveLength(1);
    expect(Object.keys(state.methodState.baseline)).toHaveLength(buildTask(config).train.length);

    const resumed = await train({ ...base(), runDir, resume: true });
    expect(weightsOf(resumed.model.variables())).toEqual(weightsOf(straight.model.variables()));
    expect(metrics(runDir)).toEqual(metrics(straightDir));
    expect(readFileSync(join(runDir, 'samples.jsonl'), 'utf8')).toBe(
      readFileSync(join(straightDir, 'samples.jsonl'), 'utf8'),
    );
    // The filter was active after the resume point: it thresholded on the restored EMA, dropped
    // groups and generated further rounds.
    const after = metrics(straightDir).slice(3);
    expect(after.every((m) => (m['filter/ema_std'] ?? 0) > 0)).toBe(true);
    expect(after.some((m) => (m['filter/kept_fraction'] ?? 1) < 1)).toBe(true);
    expect(after.some((m) => (m['filter/generation_rounds'] ?? 1) > 1)).toBe(true);
    expect(samplesHaveRewardTerms(runDir)).toBe(true);
    straight.model.dispose();
    resumed.model.dispose();
  }, 120_000);

  it('the test is sensitive: resuming without the saved method state diverges', async () => {
    const runDir = join(dir, 'rlpr-forgetful');
    const first = await train({ ...base(), runDir, stopAfter: 3 });
    first.model.dispose();
    const real = methods.rlpr.runner();
    const forgetful: MethodRunner = { ...real, setState: () => undefined };
    const resumed = await train({ ...base(), runDir, resume: true, runner: forgetful });
    resumed.model.dispose();
    const got = metrics(runDir).slice(3);
    const want = metrics(straightDir).slice(3);
    expect(got.map((m) => m['filter/ema_std'])).not.toEqual(want.map((m) => m['filter/ema_std']));
    expect(got.map((m) => m['reward/baseline_mean'])).not.toEqual(
      want.map((m) => m['reward/baseline_mean']),
    );
  }, 120_000);
});

function samplesHaveRewardTerms(runDir: string): boolean {
  const rows = readFileSync(join(runDir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return rows.every((r) =>
    [
      'response',
      'reward',
      'advantage',
      'raw',
      'baseline',
      'debiased',
      'format',
      'repetition',
    ].every((k) => k in r),
  );
}

describe('non-finite guard in a run', () => {
  it('stops before the update, logs the stop as an event and keeps the last good checkpoint', async () => {
    const config = tinyConfig('grpo', { 'train.steps': '3' });
    const runDir = join(dir, 'nan-run');
    let untouched: boolean | undefined;
    const runner: MethodRunner = {
      name: 'diverging',
      getState: () => null,
      setState: () => undefined,
      step: (input) => {
        const before = weightsOf(input.model.variables());
        const sumSquares = (): tf.Scalar =>
          tf.addN(
            [...input.model.variables().values()].map((v) => tf.sum(tf.square(v))),
          ) as tf.Scalar;
        try {
          const m = applyUpdate(input, () => ({
            loss: sumSquares(),
            metrics: { 'loss/pg': 0.1, 'loss/kl': input.step === 2 ? Number.NaN : 0.2 },
          }));
          return Promise.resolve({ metrics: m, samples: [] });
        } catch (error) {
          untouched = JSON.stringify(weightsOf(input.model.variables())) === JSON.stringify(before);
          throw error;
        }
      },
    };
    await expect(
      train({ config, baseDir, runDir, command: 't', quiet: true, runner }),
    ).rejects.toThrow(/'loss\/kl' at step 2/);
    expect(untouched).toBe(true);
    expect(latestCheckpointStep(join(runDir, 'checkpoints'))).toBe(1);
    const records = readLog(join(runDir, 'metrics.jsonl'));
    expect(
      records.filter((r) => r.type === 'step').map((r) => (r as { step: number }).step),
    ).toEqual([1]);
    expect(records.at(-1)).toMatchObject({
      type: 'event',
      step: 2,
      kind: 'non-finite',
      term: 'loss/kl',
      value: 'NaN',
    });
    expect((records.at(-1) as { message: string }).message).toContain(
      'last good checkpoint: step 1',
    );
    expect(existsSync(join(runDir, 'model'))).toBe(false);
  });
});
