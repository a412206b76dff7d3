/**
 * The training loop: the only place that knows the order of a step. Loads the base model,
 * resumes from the newest checkpoint when asked (refusing a checkpoint whose config differs in a
 * key that changes training, or that was trained from another base model, see `resume.ts`), runs
 * the method's steps, evaluates, logs every step's metrics, checkpoints atomically, stops on a
 * non-finite loss term, reward or gradient norm before that update reaches the weights (keeping
 * the last good checkpoint and logging the stop as an event), on Ctrl-C saves and exits cleanly,
 * and when the last step is done exports the model to `<run>/model` (the layout `covrl pretrain`
 * writes, so `covrl eval --base <run>` reads it).
 *
 * The guard is per update, not per step: with `train.miniBatches` > 1 the mini-batches of the
 * failing step before the bad one have already changed the in-memory weights and AdamW moments.
 * The run then aborts without saving (and `train` disposes the model it loaded), so neither a
 * checkpoint nor the export holds them. A library's input check tripping on NaN/Inf inside a step
 * is the same stop (see `toNonFiniteError`). A run whose rollouts stop contributing is flagged and,
 * past `train.collapsePatience` steps, stopped as collapsed (`run/collapse.ts`), never exported.
 *
 * Crash safety: one writer per run directory (`covrl.lock`, see `run/lock.ts`); temporary files of
 * killed processes are swept at start; SIGTERM gets SIGINT's graceful stop; a resumed run redoes
 * (never repeats) the end-of-run evaluation and export. See docs/reliability.md.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createAdamW } from '@covrl/models';
import type { AdamW, CausalLM } from '@covrl/models';
import type { Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';
import { latestCheckpointStep, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { assertFinite, Progress, RunLog, toNonFiniteError } from '../run/log.js';
import { CollapseWatch } from '../run/collapse.js';
import { lockDir } from '../run/lock.js';
import { onStopSignals } from '../run/signals.js';
import type { StopSignal } from '../run/signals.js';
import { evaluate } from '../eval/evaluate.js';
import { accuracy, evaluateSplits, flatEvalMetrics } from '../eval/splits.js';
import type { SplitResult } from '../report/results.js';
import { buildTask, ContextCache, stepData, tagsOf } from '../task.js';
import type { Task } from '../task.js';
import {
  baseFingerprint,
  baseIdentityOf,
  loadBase,
  RUN_MODEL_DIR,
  saveBaseAtomic,
} from '../model-io.js';
import type { BaseIdentity } from '../model-io.js';
import { recoverDirAside } from '../util/dir-swap.js';
import { checkResumeBase, checkResumeConfig, lrOfStep } from './resume.js';
import type { MethodRunner, StepOutput } from './common.js';
import { methodOf, rewardUnitOf } from '../methods/index.js';

/** Re-exported for callers of the trainer's former home of these helpers. */
export { evaluateSplits, flatEvalMetrics };

/** The lock file of a run directory (one writer per run). */
export const RUN_LOCK = 'covrl.lock';

export interface TrainOptions {
  readonly config: Config;
  /** Base model directory (see `model-io.ts`). */
  readonly baseDir: string;
  /** Where this run writes its log, checkpoints and (when it finishes) `model/`. */
  readonly runDir: string;
  /**
   * Continue from the newest checkpoint in `runDir` (an error when there is none, or when its
   * config differs in a key that changes training). Without it, a `runDir` that already holds
   * checkpoints is refused rather than overwritten.
   */
  readonly resume?: boolean;
  /** The command line, recorded in the log. */
  readonly command: string;
  /** Evaluate every split at the end (default true). */
  readonly finalEval?: boolean;
  /** Stop after this step (for tests of resume), without the final evaluation. */
  readonly stopAfter?: number;
  readonly quiet?: boolean;
  /** A prebuilt task (compare shares one across runs). */
  readonly task?: Task;
  /** Use this runner instead of the method's own (tests inject faults with it). */
  readonly runner?: MethodRunner;
}

export interface TrainOutcome {
  readonly runDir: string;
  readonly steps: number;
  /** The exported model directory (`<run>/model`), when the run finished all its steps. */
  readonly modelDir?: string;
  /** Final evaluation per split (empty when skipped). */
  readonly splits: Record<string, SplitResult>;
  /** Per-step training metrics: `curves[key][i]` belongs to `curves.step[i]`. */
  readonly curves: Record<string, number[]>;
  readonly seconds: number;
  readonly interrupted: boolean;
  /** The base model this run started from (recorded in its checkpoints). */
  readonly base: BaseIdentity;
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
}

/** Train `config.method` from the base model, or resume the run in `runDir`. */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const started = Date.now();
  const ckptDir = join(options.runDir, 'checkpoints');
  // Refused before the lock creates the run directory (checked again under the lock).
  if (options.resume === true && !existsSync(ckptDir)) throw noCheckpoint(ckptDir);
  const lock = lockDir(join(options.runDir, RUN_LOCK), options.command);
  try {
    return await trainLocked(options, started);
  } finally {
    lock.release();
  }
}

const noCheckpoint = (ckptDir: string): Error =>
  new Error(
    `${ckptDir}: no checkpoint to resume from; run without --resume to start this run afresh`,
  );

/** {@link train} while holding the run directory's lock. */
async function trainLocked(options: TrainOptions, started: number): Promise<TrainOutcome> {
  const { config } = options;
  const ckptDir = join(options.runDir, 'checkpoints');
  // Leftovers of killed processes (atomic-write temp files, a half-written export; an export
  // replaced when the kill came is put back).
  recoverDirAside(options.runDir);
  // Decide fresh versus resume before touching the run directory.
  const existing = newestCheckpointStep(ckptDir);
  if (options.resume === true && existing === undefined) throw noCheckpoint(ckptDir);
  if (options.resume !== true && existing !== undefined) {
    throw new Error(
      `${options.runDir} already holds a run (checkpoint at step ${existing}); pass --resume to continue it, ` +
        'or choose another --out (or delete the directory) to start afresh',
    );
  }
  const task = options.task ?? buildTask(config);
  const loadedBase = await loadBase(options.baseDir, config.seed);
  const { model, tokenizer, dir: baseDir } = loadedBase;
  try {
    return await trainLoaded(options, {
      task,
      model,
      tokenizer,
      baseDir,
      base: baseIdentityOf(loadedBase),
      started,
      tags: tagsOf(config),
      ckptDir,
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * The step `latest.json` names; when the pointer is damaged but step directories exist, the
 * newest of them (`--resume` then verifies each, `loadCheckpoint`); the pointer's located error
 * when there is none.
 */
function newestCheckpointStep(ckptDir: string): number | undefined {
  try {
    return latestCheckpointStep(ckptDir);
  } catch (error) {
    const steps = existsSync(ckptDir)
      ? readdirSync(ckptDir).flatMap((d) => (/^step-\d{6}$/.test(d) ? [Number(d.slice(5))] : []))
      : [];
    if (steps.length === 0) throw error;
    return Math.max(...steps);
  }
}

interface Loaded {
  readonly task: Task;
  readonly model: CausalLM;
  readonly tokenizer: Awaited<ReturnType<typeof loadBase>>['tokenizer'];
  readonly baseDir: string;
  readonly base: BaseIdentity;
  readonly started: number;
  readonly tags: ReturnType<typeof tagsOf>;
  readonly ckptDir: string;
}

/** Everything the step loop works with once the run is set up. */
interface RunState {
  readonly options: TrainOptions;
  readonly loaded: Loaded;
  readonly log: RunLog;
  readonly optimizer: AdamW;
  readonly runner: MethodRunner;
  readonly contextsOf: (xs: readonly Example[]) => ReturnType<ContextCache['get']>[];
  readonly startStep: number;
  readonly curves: Record<string, number[]>;
  readonly progress: Progress | undefined;
  readonly collapse: CollapseWatch;
  readonly stop: StopSignal;
}

async function trainLoaded(options: TrainOptions, loaded: Loaded): Promise<TrainOutcome> {
  const { config } = options;
  const log = new RunLog(options.runDir);
  const optimizer: AdamW = createAdamW({
    lr: config.train.lr,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: config.train.weightDecay,
  });
  let startStep: number;
  let runner: MethodRunner;
  let contextsOf: RunState['contextsOf'];
  try {
    ({ startStep, runner, contextsOf } = await setUpRun(options, loaded, log, optimizer));
  } catch (error) {
    optimizer.dispose();
    throw error;
  }
  const progress =
    options.quiet === true
      ? undefined
      : new Progress({ label: config.method, total: config.train.steps });
  const stop = onStopSignals(
    (signal) =>
      progress?.note(
        `${signal === 'SIGTERM' ? 'terminate' : 'interrupt'}: finishing the current step, then saving a checkpoint (Ctrl-C again to quit now)`,
      ),
    'second interrupt: exiting now without saving',
  );
  const run: RunState = {
    options,
    loaded,
    log,
    optimizer,
    runner,
    contextsOf,
    startStep,
    curves: { step: [] },
    progress,
    collapse: replayCollapse(config, log, startStep),
    stop,
  };
  let step: number;
  try {
    step = await runSteps(run);
  } finally {
    stop.dispose();
    progress?.stop();
    optimizer.dispose();
  }
  return await finishRun(run, step);
}

/**
 * The runner attached, and either the newest checkpoint restored (resume) or a fresh log started
 * and the runner initialised. Warnings (the runner's, skipped damaged checkpoints, a base that
 * cannot be checked) are logged and printed.
 */
async function setUpRun(
  options: TrainOptions,
  loaded: Loaded,
  log: RunLog,
  optimizer: AdamW,
): Promise<{ startStep: number; runner: MethodRunner; contextsOf: RunState['contextsOf'] }> {
  const { config } = options;
  const { model, tokenizer, tags } = loaded;
  const runner = options.runner ?? methodOf(config.method).runner();
  // Before any checkpoint is restored: the runner may keep the initial model (GRPO's KL reference).
  const warnings = [...(runner.attach?.({ config, model }) ?? [])];
  const cache = new ContextCache(tokenizer, tags, config.rlpr.baselineContext);
  const contextsOf = (xs: readonly Example[]): ReturnType<ContextCache['get']>[] =>
    xs.map((x) => cache.get(x));
  let startStep = 0;
  if (options.resume === true) {
    startStep = await restoreCheckpoint(options, loaded, log, optimizer, runner, warnings);
  } else {
    log.start(options.command, config);
    runner.init?.({
      config,
      model,
      tokenizer,
      tags,
      examples: loaded.task.train,
      contexts: contextsOf(loaded.task.train),
    });
  }
  for (const w of warnings) {
    log.event(startStep, `warning: ${w}`, { kind: 'warning' });
    if (options.quiet !== true) process.stderr.write(`covrl: warning: ${w}\n`);
  }
  return { startStep, runner, contextsOf };
}

/** Restore the newest checkpoint that verifies; returns its step. */
async function restoreCheckpoint(
  options: TrainOptions,
  loaded: Loaded,
  log: RunLog,
  optimizer: AdamW,
  runner: MethodRunner,
  warnings: string[],
): Promise<number> {
  const { config } = options;
  const ckpt = await loadCheckpoint(loaded.ckptDir);
  if (ckpt === undefined) throw new Error(`${loaded.ckptDir}: no checkpoint to resume from`);
  const tensors = [...Object.values(ckpt.weights), ...Object.values(ckpt.optimizer)];
  warnings.push(...ckpt.warnings);
  let changes;
  try {
    changes = checkResumeConfig(ckpt.state.config, config, ckpt.state.step, ckpt.dir);
    const unchecked = checkResumeBase(ckpt.state.base, loaded.base, ckpt.dir);
    if (unchecked !== undefined) warnings.push(unchecked);
    loaded.model.setWeights(ckpt.weights);
    optimizer.setState({ step: ckpt.state.optimizerStep, tensors: ckpt.optimizer });
    runner.setState(ckpt.state.methodState);
  } finally {
    tf.dispose(tensors);
  }
  const startStep = ckpt.state.step;
  for (const note of log.truncateAfter(startStep)) warnings.push(note);
  log.event(
    startStep,
    `resumed from ${ckpt.dir}` +
      (changes.length > 0
        ? `; changed on resume: ${changes.map((c) => `${c.key} ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`).join(', ')}`
        : ''),
    { kind: 'resumed' },
  );
  return startStep;
}

/** The collapse watch with the streak of the steps already logged (a resumed run). */
function replayCollapse(config: Config, log: RunLog, startStep: number): CollapseWatch {
  const watch = new CollapseWatch(config.train.collapsePatience);
  if (startStep > 0) {
    for (const r of log.stepRecords()) if (r.step <= startStep) watch.observe(r.step, r.metrics);
  }
  return watch;
}

/** Write a checkpoint of the run at `step`. */
async function saveRun(
  run: RunState,
  step: number,
  metrics?: Record<string, number>,
): Promise<void> {
  const { config } = run.options;
  const { model, tokenizer } = run.loaded;
  const opt = run.optimizer.getState();
  const weights: Record<string, tf.Tensor> = {};
  for (const [name, v] of model.variables()) weights[name] = v;
  try {
    await saveCheckpoint(run.loaded.ckptDir, {
      state: {
        step,
        dataCursor: step * config.train.questionsPerStep,
        optimizerStep: opt.step,
        rng: { seed: config.seed },
        methodState: run.runner.getState(),
        config,
        base: run.loaded.base,
        ...(metrics !== undefined ? { metricsAtStep: metrics } : {}),
      },
      weights,
      optimizer: opt.tensors,
      model: { config: model.config, tokenizer },
    });
  } finally {
    tf.dispose(Object.values(opt.tensors));
  }
}

/** The step loop; returns the last step done. */
async function runSteps(run: RunState): Promise<number> {
  const { options } = run;
  const total = options.config.train.steps;
  let step = run.startStep;
  // A resumed run that had already collapsed stops at once, as the uninterrupted one did.
  if (run.collapse.current >= options.config.train.collapsePatience) {
    const verdict = run.collapse.observe(step, { 'rollout/valid_fraction': 0 });
    if (verdict.kind === 'stop') throw stopCollapsed(run, verdict.error);
  }
  while (step < total && !run.stop.requested()) {
    if (options.stopAfter !== undefined && step >= options.stopAfter) break;
    step++;
    const { metrics, out } = await oneStep(run, step);
    await afterStep(run, step, metrics, out);
  }
  return step;
}

/** One method step with the trainer's checks; a non-finite failure becomes the logged stop. */
async function oneStep(
  run: RunState,
  step: number,
): Promise<{ metrics: Record<string, number>; out: StepOutput }> {
  const { options, runner, contextsOf } = run;
  const { config } = options;
  const { task, model, tokenizer, tags } = run.loaded;
  const lr = lrOfStep(config, step);
  const before = tf.memory().numTensors;
  try {
    // The method's updates check every loss term, reward and the gradient norm before the
    // optimizer step (`applyUpdate`); the whole step's metrics are checked again here.
    const out = await runner.step({
      step,
      config,
      model,
      tokenizer,
      tags,
      ...stepData(task.train, config, step, contextsOf),
      optimizer: run.optimizer,
      lr,
    });
    const metrics = {
      ...out.metrics,
      'train/lr': lr,
      'perf/tensors': tf.memory().numTensors - before,
    };
    assertFinite(metrics, step);
    return { metrics, out };
  } catch (error) {
    const nonFinite = toNonFiniteError(error, step);
    if (nonFinite === undefined) throw error;
    const last = latestCheckpointStep(run.loaded.ckptDir);
    run.log.event(
      nonFinite.step,
      `stopped: ${nonFinite.message}` +
        (last !== undefined ? `; last good checkpoint: step ${last}` : '; no checkpoint yet'),
      { kind: 'non-finite', term: nonFinite.term, value: nonFinite.value },
    );
    run.progress?.note(`${config.method}: ${nonFinite.message}`);
    throw nonFinite;
  }
}

/** Log, curve, in-run evaluation, checkpoint, collapse check and progress after a step. */
async function afterStep(
  run: RunState,
  step: number,
  metrics: Record<string, number>,
  out: StepOutput,
): Promise<void> {
  const { config } = run.options;
  const total = config.train.steps;
  run.log.step(step, metrics, out.timing);
  run.log.samples(step, out.samples);
  addToCurves(run.curves, step, metrics);
  if (config.train.evalEvery > 0 && step % config.train.evalEvery === 0 && step < total) {
    await inRunEval(run, step);
  }
  if (step % config.train.checkpointEvery === 0 || step === total || run.stop.requested()) {
    await saveRun(run, step, metrics);
  }
  const verdict = run.collapse.observe(step, metrics);
  if (verdict.kind === 'warn') {
    run.log.event(step, verdict.message, { kind: 'collapse' });
    if (run.progress !== undefined) run.progress.note(`${config.method}: ${verdict.message}`);
    else if (run.options.quiet !== true) process.stderr.write(`covrl: ${verdict.message}\n`);
  } else if (verdict.kind === 'stop') {
    throw stopCollapsed(run, verdict.error);
  }
  run.progress?.update(step, progressSummary(config, metrics, out.timing));
}

/** Log the collapsed stop (and save the step, so a resume sees the same state); the error. */
function stopCollapsed<E extends Error & { step: number }>(run: RunState, error: E): E {
  run.log.event(error.step, `stopped: ${error.message}`, { kind: 'collapsed' });
  run.progress?.note(`${run.options.config.method}: ${error.message}`);
  return error;
}

/**
 * The progress line: the reward with its unit, the valid share, the loss, and where the step's
 * time went (sampling / old-policy scoring / updates, seconds).
 */
function progressSummary(
  config: Config,
  metrics: Record<string, number>,
  timing: Record<string, number> = {},
): string {
  const valid = metrics['rollout/valid_fraction'];
  const s = (phase: string): string => (timing[`time/${phase}_s`] ?? 0).toFixed(1);
  return (
    `reward ${(metrics['reward/mean'] ?? NaN).toFixed(3)} (${rewardUnitOf(config)})` +
    (valid !== undefined ? ` valid ${(100 * valid).toFixed(0)}%` : '') +
    ` loss ${(metrics['loss/total'] ?? metrics['loss/pg'] ?? NaN).toFixed(3)}` +
    (timing['time/step_s'] !== undefined
      ? ` | ${s('step')}s: sample ${s('sample')} score ${s('old_score')} update ${s('update')}`
      : '')
  );
}

/** Append a step's metrics to the curves (`curves[key][i]` belongs to `curves.step[i]`). */
function addToCurves(
  curves: Record<string, number[]>,
  step: number,
  metrics: Record<string, number>,
): void {
  const steps = curves['step'] as number[];
  for (const [k, v] of Object.entries(metrics)) {
    const arr = (curves[k] ??= []);
    while (arr.length < steps.length) arr.push(Number.NaN);
    arr.push(v);
  }
  steps.push(step);
}

/** The in-run greedy evaluation on the in-domain split. */
async function inRunEval(run: RunState, step: number): Promise<void> {
  const { config } = run.options;
  const { task, model, tokenizer, tags } = run.loaded;
  const inDomain = task.splits['in-domain'] ?? [];
  const r = await evaluate({
    policy: model,
    tokenizer,
    tags,
    examples: inDomain.slice(0, config.eval.maxQuestions),
    samples: 0,
    temperature: config.eval.temperature,
    maxNewTokens: config.eval.maxNewTokens,
    maxContext: model.config.maxContext,
    seed: config.seed,
  });
  run.log.eval(step, {
    'eval/accuracy': accuracy(r),
    ...(r.answerLogProb !== undefined ? { 'eval/answer_logprob': r.answerLogProb } : {}),
  });
}

/** After the loop: the final evaluation and export of a finished run, or the interrupt note. */
async function finishRun(run: RunState, step: number): Promise<TrainOutcome> {
  const { options, loaded, log } = run;
  const { config } = options;
  const interrupted = run.stop.requested();
  const finished = !interrupted && step >= config.train.steps && options.stopAfter === undefined;
  let splits: Record<string, SplitResult> = {};
  let evalFlat: Record<string, number> | undefined;
  if (finished && options.finalEval !== false) {
    splits = await evaluateSplits(config, loaded.model, loaded.tokenizer, loaded.task, config.seed);
    evalFlat = flatEvalMetrics(splits);
    log.eval(step, evalFlat, true);
  }
  let modelDir: string | undefined;
  if (finished) {
    // The finished run as a model directory (atomically replaced as a whole).
    modelDir = join(options.runDir, RUN_MODEL_DIR);
    await saveBaseAtomic(modelDir, loaded.model, loaded.tokenizer, {
      command: options.command,
      createdAt: new Date().toISOString(),
      config,
      fingerprint: baseFingerprint(config),
      step,
      method: config.method,
      trainedFrom: loaded.baseDir,
      ...(evalFlat !== undefined ? { eval: evalFlat } : {}),
    });
    log.event(step, `exported the model to ${modelDir}`, { kind: 'exported' });
  }
  if (interrupted) {
    log.event(step, 'interrupted: checkpoint saved; continue with --resume', {
      kind: 'interrupted',
    });
  }
  return {
    runDir: options.runDir,
    steps: step,
    ...(modelDir !== undefined ? { modelDir } : {}),
    splits,
    curves: run.curves,
    seconds: (Date.now() - loaded.started) / 1000,
    interrupted,
    base: loaded.base,
    model: loaded.model,
    tokenizer: loaded.tokenizer,
  };
}
