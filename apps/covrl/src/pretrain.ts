/**
 * Pretraining the base model: next-token prediction on the suite's corpus, written in the exact
 * template shapes of the methods (PRIOR, POSTERIOR and NO-TRACE; methods.md §7b), with periodic
 * greedy evaluation. Pretraining has a sharp transition and step counts are a poor guide, so the
 * base is chosen by evaluation: the latest evaluated step whose in-domain greedy accuracy lies in
 * `[pretrain.targetLow, pretrain.targetHigh]` (headroom for RL), else the most accurate step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildPretrainCorpus, shuffle } from '@covrl/data';
import { createAdamW, createCausalLM, lrAt } from '@covrl/models';
import type { CausalLM } from '@covrl/models';
import type { Config } from './config/schema.js';
import { corpusOptions, buildTask, makeTokenizer, tagsOf } from './task.js';
import { baseFingerprint, modelConfigOf, saveBase } from './model-io.js';
import { mixSeed } from './train/common.js';
import { applyUpdate } from './train/update.js';
import { evaluateSplits } from './train/trainer.js';
import { assertFinite, Progress, RunLog } from './run/log.js';
import { preferredMatMulGradient } from './runtime.js';

export interface PretrainOptions {
  readonly config: Config;
  /** Output base model directory. */
  readonly out: string;
  readonly command: string;
  /** Where the pretraining log goes (default `<out>/pretrain-log`). */
  readonly logDir?: string;
  readonly quiet?: boolean;
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

/** Pretrain a base model on the corpus of `config` and save the best step to `out`. */
export async function pretrain(options: PretrainOptions): Promise<PretrainOutcome> {
  const started = Date.now();
  const { config } = options;
  const p = config.pretrain;
  const tags = tagsOf(config);
  const tokenizer = makeTokenizer(tags);
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
  const optimizer = createAdamW({ lr: p.lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.01 });
  const task = buildTask({ ...config, eval: { ...config.eval } } as Config);
  const evalConfig = {
    ...config,
    eval: { ...config.eval, samples: 0, maxQuestions: Math.min(config.eval.maxQuestions, 60) },
  } as Config;
  const log = new RunLog(options.logDir ?? `${options.out}/pretrain-log`);
  log.start(options.command, { ...config, corpusMix: corpus.mix, corpusTexts: encoded.length });
  const progress =
    options.quiet === true ? undefined : new Progress({ label: 'pretrain', total: p.steps });

  let best = { step: -1, score: -1, eval: {} as Record<string, number>, inBand: false };
  let bestWeights: Record<string, tf.Tensor> | undefined;
  const consider = async (step: number): Promise<void> => {
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
    // Prefer the latest step inside the target band; otherwise keep the most accurate one.
    const inDomain = flat['eval/in-domain/accuracy'] ?? 0;
    const inBand = inDomain >= p.targetLow && inDomain <= p.targetHigh;
    const better = inBand ? true : !best.inBand && sum > best.score;
    if (better) {
      best = { step, score: sum, eval: flat, inBand };
      if (bestWeights !== undefined) tf.dispose(Object.values(bestWeights));
      bestWeights = {};
      for (const [name, v] of model.variables()) bestWeights[name] = tf.clone(v);
    }
  };

  let epoch = 0;
  let order = shuffle(encoded, { seed: config.seed, epoch });
  let cursor = 0;
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
    log.step(step, m);
    progress?.update(step, `loss ${lossValue.toFixed(3)}`);
    if ((p.evalEvery > 0 && step % p.evalEvery === 0) || step === p.steps) await consider(step);
  }
  progress?.stop();
  optimizer.dispose();
  if (bestWeights !== undefined) {
    model.setWeights(bestWeights);
    tf.dispose(Object.values(bestWeights));
  }
  await saveBase(options.out, model, tokenizer, {
    command: options.command,
    createdAt: new Date().toISOString(),
    config,
    fingerprint: baseFingerprint(config),
    step: best.step,
    eval: best.eval,
  });
  model.dispose();
  void mixSeed;
  return {
    out: options.out,
    bestStep: best.step,
    eval: best.eval,
    seconds: (Date.now() - started) / 1000,
  };
}
