/**
 * Pretraining the base model: next-token prediction on the suite's corpus, written in the exact
 * template shapes of the methods (PRIOR, POSTERIOR and NO-TRACE; methods.md §7b), with periodic
 * greedy evaluation. Pretraining has a sharp transition and step counts are a poor guide, so the
 * base is chosen by evaluation: the latest evaluated step whose in-domain greedy accuracy lies in
 * `[pretrain.targetLow, pretrain.targetHigh]` (headroom for RL), else the most accurate step.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { buildPretrainCorpus, shuffle } from '@covrl/data';
import { createAdamW, createCausalLM, lrAt } from '@covrl/models';
import type { AdamW, CausalLM } from '@covrl/models';
import type { Config } from './config/schema.js';
import { corpusOptions, buildTask, makeTokenizer, tagsOf } from './task.js';
import { baseFingerprint, modelConfigOf, saveBase } from './model-io.js';
import { applyUpdate } from './train/update.js';
import { evaluateSplits } from './eval/splits.js';
import { assertFinite, Progress, RunLog } from './run/log.js';
import { lockDir } from './run/lock.js';
import { preferredMatMulGradient } from './runtime.js';
import { recoverDirAside, swapDirInto } from './util/dir-swap.js';

export interface PretrainOptions {
  readonly config: Config;
  /** Output base model directory. */
  readonly out: string;
  readonly command: string;
  /**
   * Where the pretraining log goes (default `<out>/pretrain-log`, written inside the temporary
   * directory and moved into place with the model).
   */
  readonly logDir?: string;
  readonly quiet?: boolean;
  /** Replace an existing `out` (only once the new model is complete); default: refuse it. */
  readonly force?: boolean;
}

export interface PretrainOutcome {
  readonly out: string;
  readonly bestStep: number;
  readonly eval: Record<string, number>;
  readonly seconds: number;
}

/** Mean next-token negative log-likelihood of a right-padded batch, through `scoreTokens`. */
function lmLoss(model: CausalLM, batch: readonly number[][]): tf.Scalar {
  const spans = batch.map((ids) => ({ start: 1, length: ids.length - 1 }));
  const s = model.scoreTokens({ sequences: batch, spans: { all: spans } }).all;
  return tf.div(
    tf.neg(tf.sum(tf.mul(s.logProbs, s.mask))),
    tf.maximum(tf.sum(s.mask), 1),
  ) as tf.Scalar;
}

/** The lock of a pretraining output `out`: a sibling file, since `out` itself is replaced. */
export const pretrainLockPath = (out: string): string =>
  join(dirname(out), `.${basename(out)}.covrl.lock`);

/**
 * Pretrain a base model on the corpus of `config` and save the best step to `out`. The model, its
 * `covrl-base.json` and the pretraining log are written into a temporary sibling directory and
 * moved into place only when complete, so a kill leaves the old base (or none) and never new
 * weights beside old metadata. An existing `out` is refused unless `force`; one writer at a time
 * (`.<out>.covrl.lock`).
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainOutcome> {
  const started = Date.now();
  const { out } = options;
  const lock = lockDir(pretrainLockPath(out), options.command);
  try {
    recoverDirAside(dirname(out));
    if (existsSync(out) && readdirSync(out).length > 0 && options.force !== true) {
      throw new Error(
        `${out} already exists; pass --force to replace it (the old model stays until the new one is complete), or choose another --out`,
      );
    }
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    let result;
    try {
      result = await pretrainInto(options, tmp, options.logDir ?? join(tmp, 'pretrain-log'));
      swapDirInto(tmp, out, 'pretrain');
    } catch (error) {
      // Nothing half-made stays behind; `out` is as it was.
      rmSync(tmp, { recursive: true, force: true });
      throw error;
    }
    return { ...result, out, seconds: (Date.now() - started) / 1000 };
  } finally {
    lock.release();
  }
}

/** The best evaluated step so far and a copy of its weights. */
interface Best {
  step: number;
  score: number;
  eval: Record<string, number>;
  inBand: boolean;
  weights?: Record<string, tf.Tensor>;
}

/** Pretraining itself, saving the chosen step into `dir`. */
async function pretrainInto(
  options: PretrainOptions,
  dir: string,
  logDir: string,
): Promise<Omit<PretrainOutcome, 'out' | 'seconds'>> {
  const { config } = options;
  const p = config.pretrain;
  const tokenizer = makeTokenizer(tagsOf(config));
  const corpus = buildPretrainCorpus(corpusOptions(config));
  const eos = tokenizer.eosId;
  const maxLen = config.model.maxContext;
  const encoded = corpus.texts
    .map((t) => [...tokenizer.encode(t), ...(eos !== undefined ? [eos] : [])])
    .filter((ids) => ids.length <= maxLen);
  if (encoded.length === 0) {
    throw new Error(`pretrain: no corpus text fits model.maxContext=${maxLen}; raise it`);
  }
  const model = createCausalLM(modelConfigOf(config, tokenizer.vocabSize), {
    seed: config.seed,
    matMulGradient: preferredMatMulGradient(),
  });
  const log = new RunLog(logDir);
  log.start(options.command, { ...config, corpusMix: corpus.mix, corpusTexts: encoded.length });
  const progress =
    options.quiet === true ? undefined : new Progress({ label: 'pretrain', total: p.steps });
  const best: Best = { step: -1, score: -1, eval: {}, inBand: false };
  try {
    await pretrainSteps({ options, model, tokenizer, encoded, log, progress, best });
    if (best.weights !== undefined) model.setWeights(best.weights);
    await saveBase(dir, model, tokenizer, {
      command: options.command,
      createdAt: new Date().toISOString(),
      config,
      fingerprint: baseFingerprint(config),
      step: best.step,
      eval: best.eval,
    });
  } finally {
    progress?.stop();
    if (best.weights !== undefined) tf.dispose(Object.values(best.weights));
    model.dispose();
  }
  return { bestStep: best.step, eval: best.eval };
}

interface PretrainLoop {
  readonly options: PretrainOptions;
  readonly model: CausalLM;
  readonly tokenizer: ReturnType<typeof makeTokenizer>;
  readonly encoded: number[][];
  readonly log: RunLog;
  readonly progress: Progress | undefined;
  readonly best: Best;
}

/** The pretraining steps with periodic evaluation (updates `loop.best`). */
async function pretrainSteps(loop: PretrainLoop): Promise<void> {
  const { options, model, encoded, log, progress } = loop;
  const { config } = options;
  const p = config.pretrain;
  const optimizer = createAdamW({ lr: p.lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.01 });
  let epoch = 0;
  let order = shuffle(encoded, { seed: config.seed, epoch });
  let cursor = 0;
  try {
    for (let step = 1; step <= p.steps; step++) {
      const batch: number[][] = [];
      for (let i = 0; i < p.batchSize; i++) {
        if (cursor >= order.length) {
          epoch++;
          order = shuffle(encoded, { seed: config.seed, epoch });
          cursor = 0;
        }
        batch.push(order[cursor++] as number[]);
      }
      const m = pretrainStep(model, optimizer, config, step, batch);
      log.step(step, m);
      progress?.update(step, `loss ${(m['loss/lm'] as number).toFixed(3)}`);
      if ((p.evalEvery > 0 && step % p.evalEvery === 0) || step === p.steps) {
        await consider(loop, step);
      }
    }
  } finally {
    optimizer.dispose();
  }
}

/** One next-token update at the cosine schedule's rate; its metrics, checked finite. */
function pretrainStep(
  model: CausalLM,
  optimizer: AdamW,
  config: Config,
  step: number,
  batch: number[][],
): Record<string, number> {
  const p = config.pretrain;
  const lr = lrAt(step - 1, {
    schedule: 'cosine',
    peak: p.lr,
    warmupSteps: p.warmupSteps,
    totalSteps: p.steps,
    minLr: p.lr * 0.1,
  });
  let lossValue = NaN;
  const metrics = applyUpdate({ model, optimizer, lr, config, step }, () => {
    const loss = lmLoss(model, batch);
    lossValue = loss.dataSync()[0] as number;
    return { loss, metrics: { 'loss/lm': lossValue } };
  });
  const m = { 'loss/lm': lossValue, 'grad/norm': metrics['grad/norm'] ?? NaN, 'train/lr': lr };
  assertFinite(m, step);
  return m;
}

/**
 * Evaluate at `step` and keep it when better: the latest step inside the target band, otherwise
 * the most accurate one.
 */
async function consider(loop: PretrainLoop, step: number): Promise<void> {
  const { options, model, tokenizer, log, progress, best } = loop;
  const { config } = options;
  const p = config.pretrain;
  const task = buildTask(config);
  const evalConfig = {
    ...config,
    eval: { ...config.eval, samples: 0, maxQuestions: Math.min(config.eval.maxQuestions, 60) },
  } as Config;
  const splits = await evaluateSplits(evalConfig, model, tokenizer, task, config.seed);
  const flat: Record<string, number> = {};
  let sum = 0;
  for (const [name, s] of Object.entries(splits)) {
    const acc = s.greedy.correct / Math.max(1, s.greedy.total);
    flat[`eval/${name}/accuracy`] = acc;
    if (name !== 'hard') sum += acc;
  }
  log.eval(step, flat);
  progress?.note(
    `pretrain step ${step}: ${Object.entries(flat)
      .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)
      .join(', ')}`,
  );
  const inDomain = flat['eval/in-domain/accuracy'] ?? 0;
  const inBand = inDomain >= p.targetLow && inDomain <= p.targetHigh;
  if (!(inBand || (!best.inBand && sum > best.score))) return;
  Object.assign(best, { step, score: sum, eval: flat, inBand });
  if (best.weights !== undefined) tf.dispose(Object.values(best.weights));
  best.weights = {};
  for (const [name, v] of model.variables()) best.weights[name] = tf.clone(v);
}
