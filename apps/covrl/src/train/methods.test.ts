/**
 * The method runners on a tiny random-initialised model: the options that used to be accepted and
 * ignored (GRPO's KL to the frozen initial model, RLPR's entropy bonus, CoVRL's α/G warning), the
 * per-term sample rows of CoVRL and VeriFree, GRPO's training reward being evaluation's
 * verifier, RLPR scoring no baseline without `rlpr.debias`, and a step stopped by a non-finite
 * value in any mini-batch freeing every tensor it made.
 */
import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import { createAdamW, createCausalLM } from '@covrl/models';
import { modelConfigOf } from '../model-io.js';
import type { CausalLM } from '@covrl/models';
import { getFamily } from '@covrl/data';
import type { Example } from '@covrl/data';
import { isEquivalent } from '@covrl/rewards';
import type { ResponseRollout } from '@covrl/sampler';
import type { Config } from '../config/schema.js';
import type { Method } from '../methods/index.js';
import { decodeConfig } from '../config/decode.js';
import { isCorrect } from '../eval/evaluate.js';
import { NonFiniteError } from '../run/log.js';
import { buildTask, ContextCache, makeTokenizer, tagsOf } from '../task.js';
import type { MethodRunner, StepInput } from './common.js';
import type * as Update from './update.js';
import { mixSeed } from '../util/seeds.js';
import { methods } from '../methods/index.js';
import { verifierRewards } from '../methods/grpo.js';
import { responseEntropy } from '../methods/parts/response-terms.js';

const covrlRunner = () => methods.covrl.runner();
const verifreeRunner = () => methods.verifree.runner();
const rlprRunner = () => methods.rlpr.runner();
const grpoRunner = () => methods.grpo.runner();

// `applyUpdate` as it is, except that from its `poisonFrom`-th call (0-based, counted in `calls`)
// the loss reports `loss/pg` = NaN: the real guard then stops the step before that update.
const fault = vi.hoisted(() => ({ calls: 0, poisonFrom: Number.POSITIVE_INFINITY }));
vi.mock('./update.js', async (importOriginal) => {
  const update = await importOriginal<typeof Update>();
  const applyUpdate: typeof update.applyUpdate = (input, lossFn) => {
    const call = fault.calls++;
    return update.applyUpdate(input, () => {
      const out = lossFn();
      return call < fault.poisonFrom
        ? out
        : { ...out, metrics: { ...out.metrics, 'loss/pg': Number.NaN } };
    });
  };
  return { ...update, applyUpdate };
});

const TINY: Record<string, string> = {
  'model.dModel': '16',
  'model.nLayers': '1',
  'model.nHeads': '2',
  'model.dFf': '16',
  'model.maxContext': '96',
  'data.trainPerFamily': '8',
  'data.testPerFamily': '2',
  'data.difficulty': '1',
  'train.steps': '4',
  'train.questionsPerStep': '2',
  'train.groupSize': '2',
  'train.maxTraceTokens': '12',
  'train.maxAnswerTokens': '4',
  'train.miniBatches': '1',
  'train.logSamples': '4',
  'eval.maxNewTokens': '24',
};

function configOf(method: Method, extra: Record<string, string> = {}): Config {
  const r = decodeConfig({ method, preset: 'quick', flags: { ...TINY, ...extra } });
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

const tokenizer = makeTokenizer(tagsOf(configOf('covrl')));

function tinyModel(config: Config, seed = 3): CausalLM {
  return createCausalLM(modelConfigOf(config, tokenizer.vocabSize), { seed });
}

/** One step's input for `runner` at `step`, on the task's first training questions. */
function stepInput(config: Config, model: CausalLM, step: number): StepInput & { done(): void } {
  const task = buildTask(config);
  const tags = tagsOf(config);
  const cache = new ContextCache(tokenizer, tags);
  const examples = task.train.slice(0, config.train.questionsPerStep);
  const optimizer = createAdamW({ lr: 0.01, beta1: 0.9, beta2: 0.95, weightDecay: 0 });
  return {
    step,
    config,
    model,
    tokenizer,
    tags,
    examples,
    contexts: examples.map((x) => cache.get(x)),
    seed: mixSeed(config.seed, step),
    optimizer,
    lr: 0.01,
    extraBatch: () => ({ examples, contexts: examples.map((x) => cache.get(x)) }),
    done: () => optimizer.dispose(),
  };
}

async function runStep(runner: MethodRunner, config: Config, model: CausalLM, step = 1) {
  const input = stepInput(config, model, step);
  try {
    return await runner.step(input);
  } finally {
    input.done();
  }
}

describe('responseEntropy', () => {
  it('is the full-vocabulary entropy at each response token, read one position earlier', () => {
    const config = configOf('rlpr');
    const model = tinyModel(config);
    const cache = new ContextCache(tokenizer, tagsOf(config));
    const contexts = buildTask(config)
      .train.slice(0, 2)
      .map((x) => cache.get(x));
    const rollouts = [
      { exampleIndex: 0, responseIds: tokenizer.encode('1+2=3</think>') },
      { exampleIndex: 1, responseIds: tokenizer.encode('ab') },
    ];
    const before = tf.memory().numTensors;
    const H = responseEntropy(model, { rollouts, contexts, temperature: 0.7 });
    expect(H.shape).toEqual([2, rollouts[0]?.responseIds.length]);
    const got = H.arraySync();
    H.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // The naive loop: one row at a time, softmax over the vocabulary in plain numbers.
    rollouts.forEach((r, b) => {
      const prefix = contexts[r.exampleIndex]?.priorPrefix ?? [];
      const seq = [...prefix, ...r.responseIds];
      const logits = tf.tidy(() => model.logits({ ids: [seq] }).arraySync()[0] as number[][]);
      for (let t = 0; t < (got[b]?.length ?? 0); t++) {
        if (t >= r.responseIds.length) {
          expect(got[b]?.[t]).toBe(0);
          continue;
        }
        const z = (logits[prefix.length + t - 1] as number[]).map((v) => v / 0.7);
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
        const h = -z.reduce((a, v) => a + Math.exp(v - lse) * (v - lse), 0);
        expect(got[b]?.[t]).toBeCloseTo(h, 4);
      }
    });
    model.dispose();
  });
});

describe('rlpr.entropyCoef', () => {
  it('> 0 adds the entropy bonus to the loss (loss/entropy logged, total = pg − coef·H)', async () => {
    const coef = 0.5;
    const config = configOf('rlpr', {
      'rlpr.entropyCoef': String(coef),
      'rlpr.stdFilter': 'false',
    });
    const model = tinyModel(config);
    const { metrics } = await runStep(rlprRunner(), config, model);
    model.dispose();
    const H = metrics['loss/entropy'] as number;
    expect(H).toBeGreaterThan(0);
    expect(metrics['loss/total']).toBeCloseTo((metrics['loss/pg'] as number) - coef * H, 5);
  });
});

describe('grpo.klCoef', () => {
  it('> 0 adds lowVarKl to the initial model attached before a checkpoint is restored', async () => {
    const config = configOf('grpo', { 'grpo.klCoef': '0.5' });
    const model = tinyModel(config);
    const runner = grpoRunner();
    expect(runner.attach?.({ config, model })).toEqual([]);
    const first = await runStep(runner, config, model, 1);
    // The policy is the reference at step 1: the KL term is there and exactly zero.
    expect(first.metrics['loss/kl']).toBeCloseTo(0, 6);
    // What a resumed run does: restore other weights after attach. The reference stays the model
    // attached, so the KL is now positive.
    const other = tinyModel(config, 11);
    const w = other.getWeights();
    model.setWeights(w);
    tf.dispose(Object.values(w));
    other.dispose();
    const second = await runStep(runner, config, model, 2);
    expect(second.metrics['kl/mean']).toBeGreaterThan(1e-3);
    expect(second.metrics['loss/total']).toBeCloseTo(
      (second.metrics['loss/pg'] as number) + 0.5 * (second.metrics['loss/kl'] as number),
      5,
    );
    model.dispose();
  });

  it('without an attached reference, fails naming what is missing', async () => {
    const config = configOf('grpo', { 'grpo.klCoef': '0.5' });
    const model = tinyModel(config);
    await expect(runStep(grpoRunner(), config, model)).rejects.toThrow(/frozen initial model/);
    model.dispose();
  });
});

describe('covrl α/G warning', () => {
  it('attach warns when round(α·G) makes every group all-prior or all-posterior', () => {
    const model = tinyModel(configOf('covrl'));
    const warn = (alpha: string, G: string) =>
      covrlRunner().attach?.({
        config: configOf('covrl', { 'covrl.alpha': alpha, 'train.groupSize': G }),
        model,
      });
    expect(warn('0.1', '4')?.[0]).toMatch(/all-posterior/);
    expect(warn('0.9', '4')?.[0]).toMatch(/all-prior/);
    expect(warn('0.5', '4')).toEqual([]);
    expect(warn('0.1', '8')).toEqual([]);
    model.dispose();
  });
});

describe('sample rows', () => {
  it('CoVRL logs every reward term of each sampled row', async () => {
    const config = configOf('covrl');
    const model = tinyModel(config);
    const { samples } = await runStep(covrlRunner(), config, model);
    model.dispose();
    expect(samples.length).toBeGreaterThan(0);
    const sources = new Set<unknown>();
    for (const row of samples) {
      for (const key of [
        'source',
        'finishReason',
        'truncated',
        'wellFormed',
        'answerLogProb',
        'rawReward',
        'invalidRule',
        'reward',
        'advantage',
      ]) {
        expect(row).toHaveProperty(key);
      }
      sources.add(row['source']);
      expect(Number.isFinite(row['answerLogProb'])).toBe(true);
      expect(row['invalidRule']).toBe(row['truncated'] === true || row['wellFormed'] !== true);
      // log-prob-sum: the raw reward is log p(y|x,z); the rule only rewrites invalid rows.
      expect(row['rawReward']).toBeCloseTo(row['answerLogProb'] as number, 5);
      if (row['invalidRule'] === false) expect(row['reward']).toBe(row['rawReward']);
    }
    expect(sources).toEqual(new Set(['prior', 'posterior']));
  });

  it('VeriFree logs L, R = exp L before and after the invalid-row rule, and the flags', async () => {
    const config = configOf('verifree');
    const model = tinyModel(config);
    const { samples } = await runStep(verifreeRunner(), config, model);
    model.dispose();
    expect(samples.length).toBeGreaterThan(0);
    for (const row of samples) {
      expect(row['source']).toBe('prior');
      expect(row['answerSpan']).toBe('answer+close');
      expect(typeof row['truncated']).toBe('boolean');
      expect(typeof row['wellFormed']).toBe('boolean');
      expect(row['rawReward']).toBeCloseTo(Math.exp(row['answerLogProb'] as number), 6);
      expect(row['reward']).toBe(row['invalidRule'] === true ? 0 : row['rawReward']);
    }
  });
});

describe('GRPO training reward', () => {
  const addition = getFamily('addition');
  if (E.isLeft(addition)) throw new Error(addition.left);
  const ex: Example = addition.right.generate({ seed: 1, count: 1, difficulty: 2 })[0] as Example;
  const row = (extractedAnswer: string | undefined, formatValid = true) =>
    ({
      exampleIndex: 0,
      formatValid,
      ...(extractedAnswer === undefined ? {} : { extractedAnswer }),
    }) as Pick<ResponseRollout, 'exampleIndex' | 'formatValid' | 'extractedAnswer'>;

  it("is the family's verifier, as in evaluation, not the generic isEquivalent", () => {
    // `1682.0` for 1682 passes the generic rule but not the addition family's integer verifier.
    const decimal = `${ex.answer}.0`;
    expect(isEquivalent(decimal, ex.answer)).toBe(true);
    expect(verifierRewards([row(decimal)], [ex])).toEqual([0]);
    for (const p of [ex.answer, ` +0${ex.answer} `, `${ex.answer}.0`, `${ex.answer}e0`, 'x']) {
      expect(verifierRewards([row(p)], [ex])).toEqual([isCorrect(p, ex) ? 1 : 0]);
    }
  });

  it('gives malformed responses 0 even with a correct answer (methods.md §6)', () => {
    expect(verifierRewards([row(ex.answer, false), row(undefined)], [ex])).toEqual([0, 0]);
  });
});

describe('rlpr.debias = false', () => {
  it('scores no no-reasoning baseline r′, in init or in a step, and logs none', async () => {
    const config = configOf('rlpr', { 'rlpr.debias': 'false', 'rlpr.stdFilter': 'false' });
    const model = tinyModel(config);
    const runner = rlprRunner();
    const input = stepInput(config, model, 1);
    runner.init?.({ ...input, examples: input.examples, contexts: input.contexts });
    const { metrics, samples } = await runStep(runner, config, model);
    model.dispose();
    input.done();
    expect((runner.getState() as { baseline: object }).baseline).toEqual({});
    expect(metrics).not.toHaveProperty('reward/baseline_mean');
    expect(Number.isFinite(metrics['reward/raw_prob_mean'])).toBe(true);
    for (const row of samples) {
      expect(row).not.toHaveProperty('baseline');
      // (1 − w)·r + w·format + repetition, r undebiased.
      const w = config.rlpr.formatWeight;
      expect(row['reward']).toBeCloseTo(
        (1 - w) * (row['raw'] as number) +
          w * (row['format'] as number) +
          (row['repetition'] as number),
        6,
      );
    }
  });
});

describe('a step stopped by a non-finite value', () => {
  // Two mini-batches, so CoVRL, RLPR and GRPO stop in the second with the first applied and the
  // second's old (and GRPO's reference) log-probs still held; VeriFree makes one update.
  const cases: { method: Method; extra: Record<string, string>; runner: () => MethodRunner }[] = [
    { method: 'covrl', extra: {}, runner: covrlRunner },
    { method: 'verifree', extra: {}, runner: verifreeRunner },
    { method: 'rlpr', extra: { 'rlpr.stdFilter': 'false' }, runner: rlprRunner },
    { method: 'grpo', extra: { 'grpo.klCoef': '0.5' }, runner: grpoRunner },
  ];

  it.each(cases)(
    '$method: leaves tf.memory().numTensors where it was before the step',
    async ({ method, extra, runner: make }) => {
      const config = configOf(method, { ...extra, 'train.miniBatches': '2' });
      const model = tinyModel(config);
      const runner = make();
      runner.attach?.({ config, model });
      const input = stepInput(config, model, 1);
      try {
        // A clean step first: it creates AdamW's moments, which are the optimizer's to keep.
        await runner.step(input);
        const before = tf.memory().numTensors;
        fault.calls = 0;
        fault.poisonFrom = method === 'verifree' ? 0 : 1;
        const error = await runner
          .step({ ...input, step: 2, seed: mixSeed(config.seed, 2) })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NonFiniteError);
        expect((error as NonFiniteError).term).toBe('loss/pg');
        expect(fault.calls).toBe(fault.poisonFrom + 1); // stopped at the poisoned update
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        fault.poisonFrom = Number.POSITIVE_INFINITY;
        input.done();
        model.dispose();
      }
    },
  );
});
