/**
 * The training loop: the only place that knows the order of a step. Loads the base model,
 * resumes from the newest checkpoint when asked, runs the method's steps, evaluates, logs every
 * step's metrics, checkpoints atomically, stops on a non-finite loss or reward (keeping the last
 * good checkpoint), and on Ctrl-C saves and exits cleanly.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createAdamW, lrAt } from '@covrl/models';
import type { AdamW, CausalLM } from '@covrl/models';
import type { Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';
import { latestCheckpointStep, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { assertFinite, Progress, RunLog } from '../run/log.js';
import { evaluate } from '../eval/evaluate.js';
import type { SplitResult } from '../report/results.js';
import { batchAt, buildTask, ContextCache, extraBatchAt, tagsOf } from '../task.js';
import type { Task } from '../task.js';
import { loadBase } from '../model-io.js';
import type { MethodRunner, StepOutput } from './common.js';
import { mixSeed } from './common.js';
import { covrlRunner } from './covrl.js';
import { verifreeRunner } from './verifree.js';
import { grpoRunner, rlprRunner } from './response-methods.js';

export const RUNNERS: Readonly<Record<Config['method'], () => MethodRunner>> = {
  covrl: covrlRunner,
  verifree: verifreeRunner,
  rlpr: rlprRunner,
  grpo: grpoRunner,
};

export interface TrainOptions {
  readonly config: Config;
  /** Base model directory (see `model-io.ts`). */
  readonly baseDir: string;
  /** Where this run writes its log and checkpoints. */
  readonly runDir: string;
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
  /** Final evaluation per split (empty when skipped). */
  readonly splits: Record<string, SplitResult>;
  /** Per-step training metrics: `curves[key][i]` belongs to `curves.step[i]`. */
  readonly curves: Record<string, number[]>;
  readonly seconds: number;
  readonly interrupted: boolean;
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
      seed,
    });
  }
  return out;
}

const accuracy = (s: SplitResult): number => s.greedy.correct / Math.max(1, s.greedy.total);

/** Train `config.method` from the base model, or resume the run in `runDir`. */
export async function train(options: TrainOptions): Promise<TrainOutcome> {
  const started = Date.now();
  const { config } = options;
  const tags = tagsOf(config);
  const ckptDir = join(options.runDir, 'checkpoints');
  const log = new RunLog(options.runDir);
  const task = options.task ?? buildTask(config);
  const { model, tokenizer } = await loadBase(options.baseDir, config.seed);
  const optimizer: AdamW = createAdamW({
    lr: config.train.lr,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: config.train.weightDecay,
  });
  const runner = options.runner ?? RUNNERS[config.method]();
  const cache = new ContextCache(tokenizer, tags, config.rlpr.baselineContext as 'no-think');
  const contextsOf = (xs: readonly Example[]) => xs.map((x) => cache.get(x));

  let startStep = 0;
  const resumeFrom = options.resume === true ? latestCheckpointStep(ckptDir) : undefined;
  if (resumeFrom !== undefined) {
    const ckpt = loadCheckpoint(ckptDir);
    if (ckpt === undefined) throw new Error(`${ckptDir}: no checkpoint to resume from`);
    model.setWeights(ckpt.weights);
    optimizer.setState({ step: ckpt.state.optimizerStep, tensors: ckpt.optimizer });
    tf.dispose([...Object.values(ckpt.weights), ...Object.values(ckpt.optimizer)]);
    runner.setState(ckpt.state.methodState);
    startStep = ckpt.state.step;
    log.truncateAfter(startStep);
    log.event(startStep, `resumed from ${ckpt.dir}`);
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
    await saveCheckpoint(
      ckptDir,
      {
        step,
        dataCursor: step * config.train.questionsPerStep,
        optimizerStep: opt.step,
        rng: { seed: config.seed },
        methodState: runner.getState(),
        config,
        ...(metrics !== undefined ? { metricsAtStep: metrics } : {}),
      },
      weights,
      opt.tensors,
    );
    tf.dispose(Object.values(opt.tensors));
  };

  let step = startStep;
  try {
    while (step < total && !interrupted) {
      if (options.stopAfter !== undefined && step >= options.stopAfter) break;
      step++;
      const { examples } = batchAt(task.train, config.seed, step, config.train.questionsPerStep);
      const lr = lrAt(step - 1, {
        schedule: config.train.lrSchedule as 'constant' | 'cosine',
        peak: config.train.lr,
        warmupSteps: Math.round(config.train.warmupFraction * total),
        totalSteps: total,
      });
      const before = tf.memory().numTensors;
      const out: StepOutput = await runner.step({
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
      const metrics: Record<string, number> = {
        ...out.metrics,
        'train/lr': lr,
        'perf/tensors': tf.memory().numTensors - before,
      };
      assertFinite(metrics, step);
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
          seed: config.seed,
        });
        log.eval(step, { 'eval/accuracy': accuracy(r) });
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
  if (!interrupted && options.finalEval !== false && options.stopAfter === undefined) {
    splits = await evaluateSplits(config, model, tokenizer, task, config.seed);
    const flat: Record<string, number> = {};
    for (const [name, s] of Object.entries(splits)) {
      flat[`eval/${name}/accuracy`] = accuracy(s);
      flat[`eval/${name}/avg_at_k`] = s.sampled.correct / Math.max(1, s.sampled.total);
    }
    flat['eval/accuracy'] = flat['eval/in-domain/accuracy'] ?? 0;
    log.eval(step, flat);
  }
  if (interrupted) log.event(step, 'interrupted: checkpoint saved; continue with --resume');
  return {
    runDir: options.runDir,
    steps: step,
    splits,
    curves,
    seconds: (Date.now() - started) / 1000,
    interrupted,
    model,
    tokenizer,
  };
}
