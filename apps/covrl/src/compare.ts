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
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import type { Config } from './config/schema.js';
import type { Method } from './methods/index.js';
import { decodeConfig } from './config/decode.js';
import type { ConfigSources } from './config/decode.js';
import { baseFingerprint, baseIdentity, loadBase, readBaseMeta, sameBase } from './model-io.js';
import type { BaseIdentity, BaseMeta } from './model-io.js';
import { pretrain } from './pretrain.js';
import { buildTask } from './task.js';
import type { Task } from './task.js';
import { train } from './train/trainer.js';
import { evaluateSplits } from './eval/splits.js';
import type { MethodRunner } from './train/common.js';
import { configChanges } from './train/resume.js';
import { latestCheckpointStep } from './checkpoint.js';
import { readLog } from './run/log.js';
import { failureReason } from './run/failure.js';
import type { WorkerJob, WorkerReply } from './compare-worker.js';
import { lockDir } from './run/lock.js';
import { onStopSignals } from './run/signals.js';
import { readJsonFile } from './util/json-schema.js';
import { sweepTempFiles } from './util/atomic.js';
import { resultsDecoder } from './report/results.js';
import type { Results, ResultsState, RunCompute, RunResult } from './report/results.js';
import { writeReport } from './report/build.js';

export const COMPARE_METHODS: readonly Method[] = ['grpo', 'verifree', 'rlpr', 'covrl'];

/**
 * The embedded base models shipped with the app (see README, "The embedded base model"):
 * `base-quick` for the quick and standard presets, `base-study` for the study preset
 * (docs/results/study/base-measurements.md). A comparison reuses the one whose fingerprint matches.
 */
export const EMBEDDED_BASES = ['base-quick', 'base-study'] as const;

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
  /**
   * Training runs at once, each in its own worker process (`compare-worker.ts`); 1 (the
   * default) trains them one after another in this process. Each run is bit-identical either way.
   */
  readonly jobs?: number;
  /** The TF.js backend the workers select (the parent's: `initRuntime(...).backend`). */
  readonly workerBackend?: string;
  /** The worker script (default: `compare-worker.js` beside this file, as built). */
  readonly workerScript?: string;
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

/** What a run's logged steps spent (the sum of their `timing`), or undefined without a log. */
export function computeOf(runDir: string): RunCompute | undefined {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return undefined;
  const steps = readLog(path).flatMap((r) => (r.type === 'step' ? [r.timing ?? {}] : []));
  const sum = (key: string): number => steps.reduce((a, t) => a + (t[key] ?? 0), 0);
  return {
    steps: steps.length,
    sampledTokens: sum('compute/sampled_tokens'),
    rows: sum('compute/rows'),
    updates: sum('compute/updates'),
    sampleSeconds: sum('time/sample_s'),
    oldScoreSeconds: sum('time/old_score_s'),
    updateSeconds: sum('time/update_s'),
    stepSeconds: sum('time/step_s'),
  };
}

/** The resolved config a run directory's log starts with (undefined without a log). */
function loggedConfig(runDir: string, log: (line: string) => void): unknown {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return undefined;
  const first = readLog(path, log)[0];
  return first?.type === 'config' ? first.config : undefined;
}

/**
 * The results.json an earlier invocation left in `out`, decoded against its schema. A damaged
 * file is an error naming the file and the field (never silently ignored: the runs it records
 * would be redone and the file overwritten).
 */
function previousResults(out: string): Results | undefined {
  const path = join(out, 'results.json');
  if (!existsSync(path)) return undefined;
  return readJsonFile(
    path,
    resultsDecoder,
    `move it aside (the runs it records are redone) or restore it, then rerun the same command`,
  );
}

/** Refuse repeated seeds or methods (one run recorded twice would narrow its interval). */
function checkDistinct(options: CompareOptions): void {
  const twice = <T>(xs: readonly T[]): T[] => xs.filter((x, i) => xs.indexOf(x) !== i);
  const seeds = twice(options.seeds);
  if (seeds.length > 0) {
    throw new Error(
      `compare: seed ${String(seeds[0])} is listed twice in --seeds; list each seed once`,
    );
  }
  const methods = twice(options.methods ?? []);
  if (methods.length > 0) {
    throw new Error(
      `compare: method '${String(methods[0])}' is listed twice in --methods; list each method once`,
    );
  }
  if (options.seeds.length === 0) throw new Error('compare: no seeds; pass --seeds 1,2');
}

/**
 * Run the comparison and write `results.json`, `report.md` and `report.html` into `out`, after
 * every run. Resolves with the results when all runs are recorded or after Ctrl-C
 * (`interrupted`); runs that stopped on a non-finite value are in `failed`. Other errors
 * propagate, after the runs done so far are saved.
 */
export async function compare(options: CompareOptions): Promise<CompareOutcome> {
  const log = options.log ?? ((line: string) => console.error(line));
  checkDistinct(options);
  const preset = options.sources.preset ?? 'standard';
  const baseConfig = decode({ ...options.sources, method: 'covrl' });
  const fingerprint = baseFingerprint(baseConfig);
  // One compare per output directory (each run directory is locked again by the trainer).
  const lock = lockDir(join(options.out, COMPARE_LOCK), options.command);
  // Temporary files of a killed comparison (results.json, report.md, report.html).
  sweepTempFiles(options.out);
  // Ctrl-C or SIGTERM: stop after the current phase (a training run saves its checkpoint first);
  // twice: now.
  const stop = onStopSignals(
    () =>
      log(
        'interrupt: finishing the current run step, then saving results (Ctrl-C again to quit now)',
      ),
    'second interrupt: exiting now; results.json holds the runs done',
  );
  try {
    return await compareRuns(options, {
      log,
      preset,
      baseConfig,
      fingerprint,
      stop: stop.requested,
    });
  } finally {
    stop.dispose();
    lock.release();
  }
}

/** The lock file of a compare output directory. */
export const COMPARE_LOCK = 'covrl.lock';

interface CompareContext {
  readonly log: (line: string) => void;
  readonly preset: string;
  readonly baseConfig: Config;
  readonly fingerprint: string;
  readonly stop: () => boolean;
}

/** Find, reuse or pretrain the base model (step 1 of a comparison). */
async function resolveBase(options: CompareOptions, c: CompareContext): Promise<string> {
  if (options.base !== undefined) return options.base;
  for (const candidate of [
    ...EMBEDDED_BASES.map((b) => embeddedBaseDir(b)),
    join(options.out, 'base'),
  ]) {
    if (readMeta(candidate)?.fingerprint === c.fingerprint) {
      c.log(`base model: reusing ${candidate}`);
      return candidate;
    }
  }
  const baseDir = join(options.out, 'base');
  c.log(`base model: pretraining into ${baseDir} (no base with this config found)`);
  // The comparison owns `<out>/base`: a base made for other settings is replaced (atomically).
  await pretrain({ config: c.baseConfig, out: baseDir, command: options.command, force: true });
  return baseDir;
}

/** One trained (method, variant) of the comparison. */
interface Variant {
  readonly label: string;
  readonly method: Method;
  readonly flags: Record<string, string>;
}

/** Every method and variant of the comparison, each to run over every seed. */
function variantsOf(options: CompareOptions): Variant[] {
  const variants: Variant[] = (options.methods ?? COMPARE_METHODS).map((m) => ({
    label: m,
    method: m,
    flags: {},
  }));
  if (options.sweepAlpha === true) {
    for (const a of ['0.1', '0.9']) {
      variants.push({ label: `covrl α=${a}`, method: 'covrl', flags: { 'covrl.alpha': a } });
    }
  }
  if (options.sweepKl === true) {
    variants.push({ label: 'covrl λ_KL=0.1', method: 'covrl', flags: { 'covrl.klCoef': '0.1' } });
  }
  return variants;
}

/** The runs an earlier invocation recorded that may be kept (same config, same base). */
function keptRuns(
  options: CompareOptions,
  baseConfig: Config,
  baseDir: string,
  base: BaseIdentity,
): (label: string, seed: number) => RunResult | undefined {
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
  return (label, seed) => {
    if (!sameBaseAsBefore) return undefined;
    const run = previous?.runs.find((r) => r.label === label && r.seed === seed);
    if (run === undefined) return undefined;
    if (run.base !== undefined && !sameBase(run.base, base)) return undefined;
    return { ...run, base };
  };
}

/** The state a comparison accumulates: its runs and how to write them. */
interface Recorder {
  readonly runs: RunResult[];
  readonly planned: number;
  record(run: RunResult): Promise<void>;
  write(state: ResultsState, error?: string): Promise<void>;
  outcome(state: 'interrupted' | 'complete'): CompareOutcome;
}

function recorder(
  options: CompareOptions,
  c: CompareContext,
  baseDir: string,
  task: Task,
  planned: number,
): Recorder {
  const runs: RunResult[] = [];
  const results = (state: ResultsState, error?: string): Results => ({
    command: options.command,
    createdAt: new Date().toISOString(),
    covrlVersion: options.version,
    backend: options.backend,
    config: {
      preset: c.preset,
      seeds: options.seeds,
      baseDir,
      base: readMeta(baseDir) ?? null,
      resolved: c.baseConfig,
    },
    splits: Object.keys(task.splits),
    runs,
    progress: {
      state,
      planned,
      recorded: runs.length,
      ...(error !== undefined ? { error } : {}),
    },
  });
  return {
    runs,
    planned,
    // After every run: results.json, report.md and report.html, each replaced atomically.
    record: async (run) => {
      runs.push(run);
      await writeReport(options.out, results('running'));
    },
    write: async (state, error) => writeReport(options.out, results(state, error)),
    outcome: (state) => ({
      ...results(state),
      interrupted: state === 'interrupted',
      failed: runs.filter((r) => r.status === 'failed'),
    }),
  };
}

async function compareRuns(options: CompareOptions, c: CompareContext): Promise<CompareOutcome> {
  const { log, baseConfig } = c;
  const baseDir = await resolveBase(options, c);
  const base = baseIdentity(baseDir);
  const task = buildTask(baseConfig);
  log(
    `task: ${task.train.length} training questions; ` +
      Object.entries(task.splits)
        .map(([k, v]) => `${k} ${v.length}`)
        .join(', ') +
      ` (${task.removedOverlap} evaluation draws dropped: also in the training pool)`,
  );
  const variants = variantsOf(options);
  const kept = keptRuns(options, baseConfig, baseDir, base);
  const rec = recorder(options, c, baseDir, task, options.seeds.length * (1 + variants.length));
  const stopNow = async (): Promise<CompareOutcome> => {
    log(
      `interrupted: ${rec.runs.length} of ${rec.planned} runs recorded in ${join(options.out, 'results.json')}; rerun the same command to continue`,
    );
    await rec.write('interrupted');
    return rec.outcome('interrupted');
  };
  try {
    // 2. The base model itself, evaluated once per seed (sampling seeds differ).
    for (const seed of options.seeds) {
      if (c.stop()) return await stopNow();
      await evaluateBaseRun({ options, c, baseDir, base, task, kept, rec }, seed);
    }
    // 3. Every method and variant over every seed: here, or in `jobs` worker processes.
    const r: RunContext = { options, c, baseDir, base, task, kept, rec };
    if ((options.jobs ?? 1) > 1) {
      if (await trainInWorkers(r, variants, options.jobs ?? 1)) return await stopNow();
    } else {
      for (const v of variants) {
        for (const seed of options.seeds) {
          if (c.stop()) return await stopNow();
          if (await trainRun(r, v, seed)) return await stopNow();
        }
      }
    }
  } catch (error) {
    // Not left at "running": the file says the comparison stopped and why.
    await rec.write('aborted', error instanceof Error ? error.message : String(error));
    throw error;
  }
  await rec.write('complete');
  const done = rec.outcome('complete');
  if (done.failed.length > 0) {
    log(
      `${done.failed.length} of ${rec.planned} runs failed (see the report): ` +
        done.failed.map((r) => `${r.label} seed ${r.seed}`).join(', '),
    );
  }
  return done;
}

/** What one run of the comparison needs. */
interface RunContext {
  readonly options: CompareOptions;
  readonly c: CompareContext;
  readonly baseDir: string;
  readonly base: BaseIdentity;
  readonly task: Task;
  readonly kept: (label: string, seed: number) => RunResult | undefined;
  readonly rec: Recorder;
}

/** Evaluate the base model for one seed (or keep the earlier result). */
async function evaluateBaseRun(r: RunContext, seed: number): Promise<void> {
  const prev = r.kept('base', seed);
  if (prev !== undefined) {
    r.c.log(`base, seed ${seed}: kept from the earlier results.json`);
    await r.rec.record(prev);
    return;
  }
  const { model, tokenizer } = await loadBase(r.baseDir, seed);
  try {
    const splits = await evaluateSplits(
      { ...r.c.baseConfig, seed } as Config,
      model,
      tokenizer,
      r.task,
      seed,
    );
    await r.rec.record({
      label: 'base',
      method: 'base',
      seed,
      variant: {},
      splits,
      curves: {},
      status: 'done',
      base: r.base,
    });
  } finally {
    model.dispose();
  }
}

/** The directory name of a run: `covrl-seed1`, `covrl-alpha0.1-seed1`, `covrl-klCoef0.1-seed1`. */
function runName(v: Variant, seed: number): string {
  const suffix = Object.entries(v.flags)
    .map(([k, val]) => `-${k.split('.').pop() ?? k}${val}`)
    .join('');
  return `${v.method}${suffix}-seed${seed}`;
}

/** One planned training run of the comparison. */
interface PlannedRun {
  readonly v: Variant;
  readonly seed: number;
  readonly config: Config;
  readonly runDir: string;
  /** The fields every record of this run shares. */
  readonly entry: Omit<RunResult, 'splits' | 'curves' | 'status'>;
}

function planRun(r: RunContext, v: Variant, seed: number): PlannedRun {
  const { options } = r;
  const config = decode({
    ...options.sources,
    method: v.method,
    flags: { ...options.sources.flags, ...v.flags, seed: String(seed) },
  });
  const runDir = join(options.out, 'runs', runName(v, seed));
  const variant: Record<string, number | string | boolean> = {};
  for (const [k, raw] of Object.entries(v.flags)) variant[k] = Number(raw);
  const entry = { label: v.label, method: v.method, seed, variant, runDir, config, base: r.base };
  return { v, seed, config, runDir, entry };
}

/**
 * The earlier record of a run when it may be kept: recorded with the same config from the same
 * base (done, or failed: a rerun would fail the same way, its steps being a pure function of the
 * config and the base), and its log says so too.
 */
function keptRecord(r: RunContext, p: PlannedRun): RunResult | undefined {
  const prev = r.kept(p.v.label, p.seed);
  if (prev === undefined || prev.status === 'interrupted') return undefined;
  const logged = loggedConfig(p.runDir, r.c.log);
  if (logged === undefined || configChanges(logged, p.config).length > 0) return undefined;
  return prev;
}

/**
 * Train one (variant, seed), or keep it from the earlier results, and record it. A run that stops
 * on a non-finite value or collapses is recorded as failed with its reason and the comparison
 * goes on. Returns whether the run was interrupted (the comparison then stops).
 */
async function trainRun(r: RunContext, v: Variant, seed: number): Promise<boolean> {
  const { options, c } = r;
  const p = planRun(r, v, seed);
  const prev = keptRecord(r, p);
  if (prev !== undefined) {
    c.log(
      `train: ${v.label}, seed ${seed}: kept from the earlier results.json (${prev.status ?? 'done'})` +
        (prev.status === 'failed' ? `; delete ${p.runDir} to retry it` : ''),
    );
    await r.rec.record(prev);
    return false;
  }
  const resume = latestCheckpointStep(join(p.runDir, 'checkpoints')) !== undefined;
  c.log(`train: ${v.label}, seed ${seed} → ${p.runDir}${resume ? ' (resuming)' : ''}`);
  const runner = options.runnerFor?.({ label: v.label, method: v.method, seed });
  let trained;
  try {
    trained = await train({
      config: p.config,
      baseDir: r.baseDir,
      runDir: p.runDir,
      command: options.command,
      task: r.task,
      quiet: false,
      resume,
      ...(runner !== undefined ? { runner } : {}),
    });
  } catch (error) {
    const reason = failureReason(error);
    if (reason === undefined) throw error;
    await recordFailed(r, p, reason);
    return false;
  }
  trained.model.dispose();
  return await recordTrained(r, p, trained);
}

/** A diverged or collapsed run is a result: record it with its reason and go on. */
async function recordFailed(r: RunContext, p: PlannedRun, reason: string): Promise<void> {
  r.c.log(`  ${p.v.label} seed ${p.seed}: FAILED: ${reason}`);
  const compute = computeOf(p.runDir);
  await r.rec.record({
    ...p.entry,
    splits: {},
    curves: curvesOf(p.runDir),
    ...(compute !== undefined ? { compute } : {}),
    status: 'failed',
    reason,
  });
}

/** Record a run that returned (finished, or interrupted); whether it was interrupted. */
async function recordTrained(
  r: RunContext,
  p: PlannedRun,
  trained: Pick<Awaited<ReturnType<typeof train>>, 'interrupted' | 'steps' | 'seconds' | 'splits'>,
): Promise<boolean> {
  const curves = curvesOf(p.runDir);
  const compute = computeOf(p.runDir);
  const spent = compute !== undefined ? { compute } : {};
  if (trained.interrupted) {
    await r.rec.record({
      ...p.entry,
      splits: {},
      curves,
      ...spent,
      seconds: trained.seconds,
      status: 'interrupted',
      reason: `interrupted at step ${trained.steps} of ${p.config.train.steps}; the checkpoint resumes it`,
    });
    return true;
  }
  await r.rec.record({
    ...p.entry,
    splits: trained.splits,
    curves,
    ...spent,
    seconds: trained.seconds,
    status: 'done',
  });
  const acc = trained.splits['in-domain'];
  if (acc !== undefined) {
    r.c.log(
      `  ${p.v.label} seed ${p.seed}: in-domain greedy ${((100 * acc.greedy.correct) / Math.max(1, acc.greedy.total)).toFixed(1)}% (${trained.seconds.toFixed(0)} s)`,
    );
  }
  return false;
}

/** The worker script beside this module (`dist/compare-worker.js` once built). */
const WORKER = fileURLToPath(new URL('./compare-worker.js', import.meta.url));

/**
 * Train every (variant, seed) in up to `jobs` worker processes at once. Kept runs are recorded
 * first-come as in-process; each finished run is recorded (results.json rewritten) when its
 * worker answers. A stop request (Ctrl-C, SIGTERM) is forwarded to every worker as one SIGINT:
 * each saves its checkpoint and answers interrupted, and no new run starts. Returns whether the
 * comparison was interrupted.
 */
async function trainInWorkers(
  r: RunContext,
  variants: readonly Variant[],
  jobs: number,
): Promise<boolean> {
  const children = new Set<ChildProcess>();
  const running = new Set<Promise<void>>();
  let interrupted = false;
  let forwarded = false;
  const watch = setInterval(() => {
    if (!r.c.stop() || forwarded) return;
    forwarded = true;
    for (const child of children) child.kill('SIGINT');
  }, 100);
  let fatal: unknown;
  try {
    for (const v of variants) {
      for (const seed of r.options.seeds) {
        while (running.size >= jobs) await Promise.race(running);
        if (r.c.stop() || interrupted || fatal !== undefined) break;
        const p = planRun(r, v, seed);
        const prev = keptRecord(r, p);
        if (prev !== undefined) {
          r.c.log(
            `train: ${v.label}, seed ${seed}: kept from the earlier results.json (${prev.status ?? 'done'})`,
          );
          await r.rec.record(prev);
          continue;
        }
        const task: Promise<void> = runInWorker(r, p, children)
          .then(async (reply) => {
            if (reply.kind === 'error')
              throw new Error(`${v.label} seed ${seed}: ${reply.message}`);
            if (reply.kind === 'failed') return recordFailed(r, p, reply.reason);
            if (await recordTrained(r, p, reply)) interrupted = true;
          })
          .catch((error: unknown) => {
            fatal ??= error;
          })
          .finally(() => running.delete(task));
        running.add(task);
      }
    }
    await Promise.all(running);
  } finally {
    clearInterval(watch);
  }
  if (fatal !== undefined) throw fatal;
  return interrupted || r.c.stop();
}

/** Fork one worker for `p`, send its job, and wait for its one answer. */
function runInWorker(
  r: RunContext,
  p: PlannedRun,
  children: Set<ChildProcess>,
): Promise<WorkerReply> {
  const resume = latestCheckpointStep(join(p.runDir, 'checkpoints')) !== undefined;
  r.c.log(
    `train: ${p.v.label}, seed ${p.seed} → ${p.runDir}${resume ? ' (resuming)' : ''} [worker]`,
  );
  const job: WorkerJob = {
    config: p.config,
    baseConfig: r.c.baseConfig,
    baseDir: r.baseDir,
    runDir: p.runDir,
    command: r.options.command,
    resume,
    ...(r.options.workerBackend !== undefined ? { backend: r.options.workerBackend } : {}),
  };
  // Its own process group: a Ctrl-C at the terminal reaches only this process, which forwards it.
  const child = fork(r.options.workerScript ?? WORKER, [], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let reply: WorkerReply | undefined;
    child.on('message', (m: WorkerReply) => {
      reply = m;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (reply !== undefined) resolve(reply);
      // Stopped by the forwarded Ctrl-C before its trainer took the signal (still loading):
      // interrupted at its newest checkpoint, which a rerun resumes.
      else if (signal === 'SIGINT' && r.c.stop()) {
        const steps = latestCheckpointStep(join(p.runDir, 'checkpoints')) ?? 0;
        resolve({ kind: 'trained', interrupted: true, steps, seconds: 0, splits: {} });
      } else
        reject(
          new Error(
            `the worker of ${p.v.label} seed ${p.seed} exited (${signal ?? `code ${code}`}) before answering; rerun to resume it`,
          ),
        );
    });
    child.send(job);
  });
}
