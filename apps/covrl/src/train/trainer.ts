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
 * checkpoint nor the export holds them.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createAdamW } from '@covrl/models';
import type { AdamW, CausalLM } from '@covrl/models';
import type { Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';
import { latestCheckpointStep, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { assertFinite, NonFiniteError, Progress, RunLog } from '../run/log.js';
import { evaluate } from '../eval/evaluate.js';
import type { SplitResult } from '../report/results.js';
import { batchAt, buildTask, ContextCache, extraBatchAt, tagsOf } from '../task.js';
import type { Task } from '../task.js';
import {
  baseFingerprint,
  baseIdentityOf,
  loadBase,
  RUN_MODEL_DIR,
  saveBaseAtomic,
} from '../model-io.js';
import type { BaseIdentity } from '../model-io.js';
import { checkResumeBase, checkResumeConfig, lrOfStep } from './resume.js';
import type { MethodRunner, StepOutput } from './common.js';
import { mixSeed } from './common.js';
import { methodOf } from '../methods/index.js';


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

/** Evaluate the model on every split of the task (at most `eval.maxQuestions` each). */
export async function evaluateSplits(
  config: Config,
  model: CausalLM,
  tokenizer: Tokenizer,
  task: Task,
  seed: number,
): Promise<Record<string, SplitResult>> {
  const out: Record<string, SplitResult> = {};
  for (const [name, examples] of Object.entries(task.splits)) {
    out[name] = await evaluate({
      policy: model,
      tokenizer,
      tags: tagsOf(config),
      examples: examples.slice(0, config.eval.maxQuestions),
      samples: config.eval.samples,
      temperature: config.eval.temperature,
      maxNewTokens: config.eval.maxNewTokens,
      maxContext: model.config.maxContext,
      seed,
    });
  }
  return out;
}

const accuracy = (s: SplitResult): number => s.greedy.correct / Math.max(1, s.greedy.total);

/**
 * The final evaluation as flat metrics for the log: per split greedy accuracy, sampled avg@k and
 * the reference answer's log-likelihood after the model's own greedy trace; `eval/accuracy` and
 * `eval/answer_logprob` are the in-domain values (the spec's CoVRL metrics, §4).
 */
export function flatEvalMetrics(splits: Record<string, SplitResult>): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [name, s] of Object.entries(splits)) {
    flat[`eval/${name}/accuracy`] = accuracy(s);
    flat[`eval/${name}/avg_at_k`] = s.sampled.correct / Math.max(1, s.sampled.total);
    if (s.answerLogProb !== undefined) flat[`eval/${name}/answer_logprob`] = s.answerLogProb;
  }
  flat['eval/accuracy'] = flat['eval/in-domain/accuracy'] ?? 0;
  const lp = flat['eval/in-domain/answer_logprob'];
  if (lp !== undefined) flat['eval/answer_logprob'] = lp;
  return flat;
}

/** Train `config.method` from the base model, or resume the run in `runDir`. */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const started = Date.now();
  const { config } = options;
  const tags = tagsOf(config);
  const ckptDir = join(options.runDir, 'checkpoints');
  // Decide fresh versus resume before touching the run directory.
  const existing = latestCheckpointStep(ckptDir);
  if (options.resume === true && existing === undefined) {
    throw new Error(
      `${ckptDir}: no checkpoint to resume from; run without --resume to start this run afresh`,
    );
  }
  if (options.resume !== true && existing !== undefined) {
    throw new Error(
      `${options.runDir} already holds a run (checkpoint at step ${existing}); pass --resume to continue it, ` +
        'or choose another --out (or delete the directory) to start afresh',
    );
  }
  const task = options.task ?? buildTask(config);
  const loadedBase = await loadBase(options.baseDir, config.seed);
  const { model, tokenizer, dir: baseDir } = loadedBase;
  const base = baseIdentityOf(loadedBase);
  try {
    return await trainLoaded(options, {
      task,
      model,
      tokenizer,
      baseDir,
      base,
      started,
      tags,
      ckptDir,
    });
  } catch (error) {
    model.dispose();
    throw error;
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

async function trainLoaded(options: TrainOptions, loaded: Loaded): Promise<TrainOutcome> {
  const { config } = options;
  const { task, model, tokenizer, tags, ckptDir } = loaded;
  const log = new RunLog(options.runDir);
  const optimizer: AdamW = createAdamW({
    lr: config.train.lr,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: config.train.weightDecay,
  });
  const runner = options.runner ?? methodOf(config.method).runner();
  // Before any checkpoint is restored: the runner may keep the initial model (GRPO's KL reference).
  const warnings = [...(runner.attach?.({ config, model }) ?? [])];
  const cache = new ContextCache(tokenizer, tags, config.rlpr.baselineContext as 'no-think');
  const contextsOf = (xs: readonly Example[]) => xs.map((x) => cache.get(x));

  let startStep = 0;
  try {
    if (options.resume === true) {
      const ckpt = await loadCheckpoint(ckptDir);
      if (ckpt === undefined) throw new Error(`${ckptDir}: no checkpoint to resume from`);
      let changes;
      try {
        changes = checkResumeConfig(ckpt.state.config, config, ckpt.state.step, ckpt.dir);
        const unchecked = checkResumeBase(ckpt.state.base, loaded.base, ckpt.dir);
        if (unchecked !== undefined) warnings.push(unchecked);
      } catch (error) {
        tf.dispose([...Object.values(ckpt.weights), ...Object.values(ckpt.optimizer)]);
        throw error;
      }
      model.setWeights(ckpt.weights);
      optimizer.setState({ step: ckpt.state.optimizerStep, tensors: ckpt.optimizer });
      tf.dispose([...Object.values(ckpt.weights), ...Object.values(ckpt.optimizer)]);
      runner.setState(ckpt.state.methodState);
      startStep = ckpt.state.step;
      for (const note of log.truncateAfter(startStep)) warnings.push(note);
      log.event(
        startStep,
        `resumed from ${ckpt.dir}` +
          (changes.length > 0
            ? `; changed on resume: ${changes.map((c) => `${c.key} ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`).join(', ')}`
            : ''),
        { kind: 'resumed' },
      );
    } else {
      log.start(options.command, config);
      runner.init?.({
        config,
        model,
        tokenizer,
        tags,
        examples: task.train,
        contexts: contextsOf(task.train),
      });
    }
  } catch (error) {
    optimizer.dispose();
    throw error;
  }

  for (const w of warnings) {
    log.event(startStep, `warning: ${w}`);
    if (options.quiet !== true) process.stderr.write(`covrl: warning: ${w}\n`);
  }

  const curves: Record<string, number[]> = { step: [] };
  const total = config.train.steps;
  const progress =
    options.quiet === true ? undefined : new Progress({ label: config.method, total });
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) {
      // A second Ctrl-C does not wait: the last complete checkpoint stays on disk.
      process.stderr.write('second interrupt: exiting now without saving\n');
      process.exit(130);
    }
    interrupted = true;
    progress?.note(
      'interrupt: finishing the current step, then saving a checkpoint (Ctrl-C again to quit now)',
    );
  };
  process.on('SIGINT', onSigint);

  const save = async (step: number, metrics?: Record<string, number>): Promise<void> => {
    const opt = optimizer.getState();
    const weights: Record<string, tf.Tensor> = {};
    for (const [name, v] of model.variables()) weights[name] = v;
    try {
      await saveCheckpoint(ckptDir, {
        state: {
          step,
          dataCursor: step * config.train.questionsPerStep,
          optimizerStep: opt.step,
          rng: { seed: config.seed },
          methodState: runner.getState(),
          config,
          base: loaded.base,
          ...(metrics !== undefined ? { metricsAtStep: metrics } : {}),
        },
        weights,
        optimizer: opt.tensors,
        model: { config: model.config, tokenizer },
      });
    } finally {
      tf.dispose(Object.values(opt.tensors));
    }
  };

  let step = startStep;
  try {
    while (step < total && !interrupted) {
      if (options.stopAfter !== undefined && step >= options.stopAfter) break;
      step++;
      const { examples } = batchAt(task.train, config.seed, step, config.train.questionsPerStep);
      const lr = lrOfStep(config, step);
      const before = tf.memory().numTensors;
      let metrics: Record<string, number>;
      let out: StepOutput;
      try {
        // The method's updates check every loss term, reward and the gradient norm before the
        // optimizer step (`applyUpdate`); the whole step's metrics are checked again here.
        out = await runner.step({
          step,
          config,
          model,
          tokenizer,
          tags,
          examples,
          contexts: contextsOf(examples),
          seed: mixSeed(config.seed, step),
          optimizer,
          lr,
          extraBatch: (round) => {
            const xs = extraBatchAt(
              task.train,
              config.seed,
              step,
              round,
              config.train.questionsPerStep,
            );
            return { examples: xs, contexts: contextsOf(xs) };
          },
        });
        metrics = {
          ...out.metrics,
          'train/lr': lr,
          'perf/tensors': tf.memory().numTensors - before,
        };
        assertFinite(metrics, step);
      } catch (error) {
        if (error instanceof NonFiniteError) {
          const last = latestCheckpointStep(ckptDir);
          log.event(
            error.step,
            `stopped: ${error.message}` +
              (last !== undefined ? `; last good checkpoint: step ${last}` : '; no checkpoint yet'),
            { kind: 'non-finite', term: error.term, value: error.value },
          );
          progress?.note(`${config.method}: ${error.message}`);
        }
        throw error;
      }
      log.step(step, metrics);
      log.samples(step, out.samples);
      const steps = curves['step'] as number[];
      for (const [k, v] of Object.entries(metrics)) {
        const arr = (curves[k] ??= []);
        while (arr.length < steps.length) arr.push(Number.NaN);
        arr.push(v);
      }
      steps.push(step);
      if (config.train.evalEvery > 0 && step % config.train.evalEvery === 0 && step < total) {
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
        log.eval(step, {
          'eval/accuracy': accuracy(r),
          ...(r.answerLogProb !== undefined ? { 'eval/answer_logprob': r.answerLogProb } : {}),
        });
      }
      if (step % config.train.checkpointEvery === 0 || step === total || interrupted) {
        await save(step, metrics);
      }
      progress?.update(
        step,
        `reward ${(metrics['reward/mean'] ?? NaN).toFixed(3)} loss ${(metrics['loss/total'] ?? metrics['loss/pg'] ?? NaN).toFixed(3)}`,
      );
    }
  } finally {
    process.off('SIGINT', onSigint);
    progress?.stop();
    optimizer.dispose();
  }

  let splits: Record<string, SplitResult> = {};
  const finished = !interrupted && step >= total && options.stopAfter === undefined;
  let evalFlat: Record<string, number> | undefined;
  if (finished && options.finalEval !== false) {
    splits = await evaluateSplits(config, model, tokenizer, task, config.seed);
    evalFlat = flatEvalMetrics(splits);
    log.eval(step, evalFlat);
  }
  let modelDir: string | undefined;
  if (finished) {
    // The finished run as a model directory (atomically replaced as a whole).
    modelDir = join(options.runDir, RUN_MODEL_DIR);
    await saveBaseAtomic(modelDir, model, tokenizer, {
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
    curves,
    seconds: (Date.now() - loaded.started) / 1000,
    interrupted,
    base: loaded.base,
    model,
    tokenizer,
  };
}
