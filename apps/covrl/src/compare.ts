/**
 * `covrl compare`: one base model (pretrained, reused, or the embedded default), then base, grpo,
 * verifree, rlpr and covrl trained from it over several seeds under the same budget, each
 * evaluated on the in-domain, transfer and hard splits, and a report written from the results.
 * Optional sweeps run CoVRL's α ∈ {0.1, 0.9} and λ_KL = 0.1 beside its defaults (α 0.5, λ_KL 1).
 *
 * `results.json`, `report.md` and `report.html` are rewritten (atomically) after every run, so an
 * interrupted or crashed comparison leaves a valid report of what is done. A run that stops on a
 * non-finite value is recorded as `failed` with the trainer's reason and the comparison goes on
 * (one diverging method or seed must not cost the others). Ctrl-C lets the current training step
 * finish, saves its checkpoint, records the run as `interrupted` and stops the whole comparison.
 * Rerunning the same command continues: runs already recorded with the same config and from the
 * same base model (its directory and `covrl-base.json` fingerprint, recorded with every run) are
 * kept, an interrupted run resumes from its checkpoint (which the trainer refuses when it was
 * trained from another base), the rest are trained.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import type { Config } from './config/schema.js';
import type { Method } from './methods/index.js';
import { decodeConfig } from './config/decode.js';
import type { ConfigSources } from './config/decode.js';
import { baseFingerprint, baseIdentity, loadBase, readBaseMeta, sameBase } from './model-io.js';
import type { BaseMeta } from './model-io.js';
import { pretrain } from './pretrain.js';
import { buildTask } from './task.js';
import { evaluateSplits, train } from './train/trainer.js';
import type { MethodRunner } from './train/common.js';
import { configChanges } from './train/resume.js';
import { latestCheckpointStep } from './checkpoint.js';
import { NonFiniteError, readLog } from './run/log.js';
import { checkResults } from './report/results.js';
import type { Results, RunResult } from './report/results.js';
import { writeReport } from './report/build.js';

export const COMPARE_METHODS: readonly Method[] = ['grpo', 'verifree', 'rlpr', 'covrl'];

/** The embedded base models shipped with the app (see README, "The embedded base model"). */
export const EMBEDDED_BASES = ['base-quick'] as const;

/** Directory of an embedded base model. Both budget presets share `base-quick`. */
export function embeddedBaseDir(name: string = 'base-quick'): string {
  return fileURLToPath(new URL(`../assets/${name}`, import.meta.url));
}

export interface CompareOptions {
  /** Config sources shared by every run; `method` is set per run. */
  readonly sources: Omit<ConfigSources, 'method'>;
  readonly seeds: readonly number[];
  readonly out: string;
  /** Use this base model directory instead of finding or pretraining one. */
  readonly base?: string;
  readonly methods?: readonly Method[];
  /** Also run CoVRL with α ∈ {0.1, 0.9}. */
  readonly sweepAlpha?: boolean;
  /** Also run CoVRL with λ_KL = 0.1. */
  readonly sweepKl?: boolean;
  readonly command: string;
  readonly backend: string;
  readonly version: string;
  readonly log?: (line: string) => void;
  /** Tests: the method runner of one run (fault injection); undefined keeps the method's own. */
  readonly runnerFor?: (run: {
    readonly label: string;
    readonly method: Method;
    readonly seed: number;
  }) => MethodRunner | undefined;
}

/** `compare`'s results, with whether it was interrupted and which runs failed. */
export interface CompareOutcome extends Results {
  readonly interrupted: boolean;
  readonly failed: readonly RunResult[];
}

function decode(sources: ConfigSources): Config {
  const r = decodeConfig(sources);
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

const readMeta = (dir: string): BaseMeta | undefined =>
  existsSync(dir) ? readBaseMeta(dir) : undefined;

/** Per-step curves of a run, read back from its metrics log (so resumed runs are complete). */
export function curvesOf(runDir: string): Record<string, number[]> {
  const curves: Record<string, number[]> = { step: [] };
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return curves;
  const records = readLog(path).filter((r) => r.type === 'step');
  records.forEach((r, i) => {
    if (r.type !== 'step') return;
    curves['step']?.push(r.step);
    for (const [k, v] of Object.entries(r.metrics)) {
      const arr = (curves[k] ??= []);
      while (arr.length < i) arr.push(Number.NaN);
      arr.push(typeof v === 'number' ? v : Number.NaN);
    }
  });
  return curves;
}

/** The resolved config a run directory's log starts with (undefined without a log). */
function loggedConfig(runDir: string, log: (line: string) => void): unknown {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return undefined;
  const first = readLog(path, log)[0];
  return first?.type === 'config' ? first.config : undefined;
}

/** The results.json an earlier invocation left in `out`, if readable. */
function previousResults(out: string): Results | undefined {
  const path = join(out, 'results.json');
  if (!existsSync(path)) return undefined;
  try {
    return checkResults(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (_error) {
    return undefined;
  }
}

/**
 * Run the comparison and write `results.json`, `report.md` and `report.html` into `out`, after
 * every run. Resolves with the results when all runs are recorded or after Ctrl-C
 * (`interrupted`); runs that stopped on a non-finite value are in `failed`. Other errors
 * propagate, after the runs done so far are saved.
 */
export async function compare(options: CompareOptions): Promise<CompareOutcome> {
  const log = options.log ?? ((line: string) => console.error(line));
  const preset = options.sources.preset ?? 'standard';
  const baseConfig = decode({ ...options.sources, method: 'covrl' });
  const fingerprint = baseFingerprint(baseConfig);

  // Ctrl-C: stop after the current phase (a training run saves its checkpoint first); twice: now.
  let stopping = false;
  const onSigint = (): void => {
    if (stopping) {
      process.stderr.write('second interrupt: exiting now; results.json holds the runs done\n');
      process.exit(130);
    }
    stopping = true;
    log(
      'interrupt: finishing the current run step, then saving results (Ctrl-C again to quit now)',
    );
  };
  process.on('SIGINT', onSigint);
  try {
    return await compareRuns(options, {
      log,
      preset,
      baseConfig,
      fingerprint,
      stop: () => stopping,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

interface CompareContext {
  readonly log: (line: string) => void;
  readonly preset: string;
  readonly baseConfig: Config;
  readonly fingerprint: string;
  readonly stop: () => boolean;
}

async function compareRuns(options: CompareOptions, c: CompareContext): Promise<CompareOutcome> {
  const { log, baseConfig, fingerprint } = c;
  // 1. The base model: given, embedded, reused from an earlier compare, or pretrained now.
  let baseDir = options.base;
  if (baseDir === undefined) {
    for (const candidate of [
      ...EMBEDDED_BASES.map((b) => embeddedBaseDir(b)),
      join(options.out, 'base'),
    ]) {
      if (readMeta(candidate)?.fingerprint === fingerprint) {
        baseDir = candidate;
        log(`base model: reusing ${candidate}`);
        break;
      }
    }
  }
  if (baseDir === undefined) {
    baseDir = join(options.out, 'base');
    log(`base model: pretraining into ${baseDir} (no base with this config found)`);
    await pretrain({ config: baseConfig, out: baseDir, command: options.command });
  }

  const base = baseIdentity(baseDir);
  const task = buildTask(baseConfig);
  log(
    `task: ${task.train.length} training questions; ` +
      Object.entries(task.splits)
        .map(([k, v]) => `${k} ${v.length}`)
        .join(', ') +
      ` (${task.removedOverlap} evaluation draws dropped: also in the training pool)`,
  );

  // Every method and variant over every seed, from the same base.
  const variants: { label: string; method: Method; flags: Record<string, string> }[] = (
    options.methods ?? COMPARE_METHODS
  ).map((m) => ({ label: m, method: m, flags: {} }));
  if (options.sweepAlpha === true) {
    for (const a of ['0.1', '0.9']) {
      variants.push({ label: `covrl α=${a}`, method: 'covrl', flags: { 'covrl.alpha': a } });
    }
  }
  if (options.sweepKl === true) {
    variants.push({ label: 'covrl λ_KL=0.1', method: 'covrl', flags: { 'covrl.klCoef': '0.1' } });
  }
  const planned = options.seeds.length * (1 + variants.length);

  // An earlier invocation's results: runs recorded with the same config from the same base model
  // are kept, not redone. The base is the same when the earlier comparison used this directory
  // with the same fingerprint and, for results that record it per run, so did the run itself.
  const previous = previousResults(options.out);
  const previousConfig = previous?.config as {
    resolved?: unknown;
    baseDir?: unknown;
    base?: { fingerprint?: unknown } | null;
  } | null;
  const sameBaseAsBefore =
    previous !== undefined &&
    configChanges(previousConfig?.resolved, baseConfig).length === 0 &&
    previousConfig?.baseDir === baseDir &&
    (previousConfig.base?.fingerprint ?? null) === base.fingerprint;
  const previousRun = (label: string, seed: number): RunResult | undefined => {
    if (!sameBaseAsBefore) return undefined;
    const run = previous?.runs.find((r) => r.label === label && r.seed === seed);
    if (run === undefined) return undefined;
    if (run.base !== undefined && !sameBase(run.base, base)) return undefined;
    return { ...run, base };
  };

  const runs: RunResult[] = [];
  const results = (state: 'running' | 'interrupted' | 'complete'): Results => ({
    command: options.command,
    createdAt: new Date().toISOString(),
    covrlVersion: options.version,
    backend: options.backend,
    config: {
      preset: c.preset,
      seeds: options.seeds,
      baseDir,
      base: readMeta(baseDir) ?? null,
      resolved: baseConfig,
    },
    splits: Object.keys(task.splits),
    runs,
    progress: { state, planned, recorded: runs.length },
  });
  const outcome = (state: 'interrupted' | 'complete'): CompareOutcome => ({
    ...results(state),
    interrupted: state === 'interrupted',
    failed: runs.filter((r) => r.status === 'failed'),
  });
  // After every run: results.json, report.md and report.html, each replaced atomically.
  const record = async (run: RunResult): Promise<void> => {
    runs.push(run);
    await writeReport(options.out, results('running'));
  };
  const stopNow = async (): Promise<CompareOutcome> => {
    log(
      `interrupted: ${runs.length} of ${planned} runs recorded in ${join(options.out, 'results.json')}; rerun the same command to continue`,
    );
    await writeReport(options.out, results('interrupted'));
    return outcome('interrupted');
  };

  // 2. The base model itself, evaluated once per seed (sampling seeds differ).
  for (const seed of options.seeds) {
    if (c.stop()) return await stopNow();
    const prev = previousRun('base', seed);
    if (prev !== undefined) {
      log(`base, seed ${seed}: kept from the earlier results.json`);
      await record(prev);
      continue;
    }
    const { model, tokenizer } = await loadBase(baseDir, seed);
    try {
      const splits = await evaluateSplits(
        { ...baseConfig, seed } as Config,
        model,
        tokenizer,
        task,
        seed,
      );
      await record({
        label: 'base',
        method: 'base',
        seed,
        variant: {},
        splits,
        curves: {},
        status: 'done',
        base,
      });
    } finally {
      model.dispose();
    }
  }

  // 3. Every method and variant over every seed.
  for (const v of variants) {
    for (const seed of options.seeds) {
      if (c.stop()) return await stopNow();
      const config = decode({
        ...options.sources,
        method: v.method,
        flags: { ...options.sources.flags, ...v.flags, seed: String(seed) },
      });
      // e.g. `covrl-seed1`, `covrl-alpha0.1-seed1`, `covrl-klCoef0.1-seed1`.
      const suffix = Object.entries(v.flags)
        .map(([k, val]) => `-${k.split('.').pop() ?? k}${val}`)
        .join('');
      const name = `${v.method}${suffix}-seed${seed}`;
      const runDir = join(options.out, 'runs', name);
      const variant: Record<string, number | string | boolean> = {};
      for (const [k, raw] of Object.entries(v.flags)) variant[k] = Number(raw);
      const entry = { label: v.label, method: v.method, seed, variant, runDir, config, base };

      // Recorded earlier with the same config from the same base (done, or failed: a rerun would
      // fail the same way, its steps being a pure function of the config and the base): keep it.
      const prev = previousRun(v.label, seed);
      const logged = loggedConfig(runDir, log);
      if (
        prev !== undefined &&
        prev.status !== 'interrupted' &&
        logged !== undefined &&
        configChanges(logged, config).length === 0
      ) {
        log(
          `train: ${v.label}, seed ${seed}: kept from the earlier results.json (${prev.status ?? 'done'})` +
            (prev.status === 'failed' ? `; delete ${runDir} to retry it` : ''),
        );
        await record(prev);
        continue;
      }
      const resume = latestCheckpointStep(join(runDir, 'checkpoints')) !== undefined;
      log(`train: ${v.label}, seed ${seed} → ${runDir}${resume ? ' (resuming)' : ''}`);
      const runner = options.runnerFor?.({ label: v.label, method: v.method, seed });
      let trained;
      try {
        trained = await train({
          config,
          baseDir,
          runDir,
          command: options.command,
          task,
          quiet: false,
          resume,
          ...(runner !== undefined ? { runner } : {}),
        });
      } catch (error) {
        if (!(error instanceof NonFiniteError)) throw error;
        // A diverged run is a result: record it with its reason and go on with the others.
        log(`  ${v.label} seed ${seed}: FAILED: ${error.message}`);
        await record({
          ...entry,
          splits: {},
          curves: curvesOf(runDir),
          status: 'failed',
          reason: error.message,
        });
        continue;
      }
      trained.model.dispose();
      if (trained.interrupted) {
        await record({
          ...entry,
          splits: {},
          curves: curvesOf(runDir),
          seconds: trained.seconds,
          status: 'interrupted',
          reason: `interrupted at step ${trained.steps} of ${config.train.steps}; the checkpoint resumes it`,
        });
        return await stopNow();
      }
      await record({
        ...entry,
        splits: trained.splits,
        curves: curvesOf(runDir),
        seconds: trained.seconds,
        status: 'done',
      });
      const acc = trained.splits['in-domain'];
      if (acc !== undefined) {
        log(
          `  ${v.label} seed ${seed}: in-domain greedy ${((100 * acc.greedy.correct) / Math.max(1, acc.greedy.total)).toFixed(1)}% (${trained.seconds.toFixed(0)} s)`,
        );
      }
    }
  }

  await writeReport(options.out, results('complete'));
  const done = outcome('complete');
  if (done.failed.length > 0) {
    log(
      `${done.failed.length} of ${planned} runs failed (see the report): ` +
        done.failed.map((r) => `${r.label} seed ${r.seed}`).join(', '),
    );
  }
  return done;
}
