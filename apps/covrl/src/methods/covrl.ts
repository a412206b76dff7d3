/**
 * CoVRL (arXiv 2512.12576; methods.md §4): hybrid sampling — round(α·G) rows of each group from
 * the question-only prior, the rest from the answer-shown posterior — then both contexts scored
 * in one stacked pass, the reward log p(y | x, z) in PRIOR-SCORE with the invalid-row rule,
 * Dr.GRPO advantages over the whole batch, and `covrlLoss`: the clipped surrogate with the
 * per-token importance ratio toward p′ = w·p + (1−w)·q, the source-dependent composite
 * KL(p′‖p) and the selective NLL of the reference answer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { covrlLoss } from '@covrl/objectives';
import { assignSources, posteriorAnswerLeak, rolloutStats } from '@covrl/sampler';
import type { TraceRollout } from '@covrl/sampler';
import type { Config } from '../config/schema.js';
import { defineMethod } from '../train/pipeline.js';
import { mean, pick, rowsWhere } from '../train/step-metrics.js';
import { cite, SPEC_LR } from '../config/schema.js';
import {
  sampleTraceBatch,
  scoreTraceRows,
  scoreTracesOld,
  traceCheckMetrics,
  traceMetrics,
  traceSampleRow,
  validTrace,
  likelihoodUnit,
} from './parts/traces.js';

const SCORING = { includePosterior: true, answerSpan: 'answer' } as const;

/** The prior/posterior split of every group: the same at every step (deterministic) or seeded. */
const sourcesOf = (config: Config, numGroups: number, seed: number) =>
  assignSources({
    numGroups,
    groupSize: config.train.groupSize,
    alpha: config.covrl.alpha,
    split: config.covrl.hybridSplit,
    seed,
  });

export const covrl = defineMethod<TraceRollout, null>({
  name: 'covrl',
  summary:
    'CoVRL: hybrid prior/posterior traces, composite importance ratio, composite KL, selective NLL',
  preset: {
    'train.lr': cite(1e-5, SPEC_LR('§4', 'paper: 1e-6 peak at 7B')),
    'train.lrSchedule': cite('cosine', '[OURS] spec §4: cosine (paper: cosine at 7B)'),
    'train.warmupFraction': cite(0.05, '[OURS] spec §4: 5 % warm-up (paper: 64 warm-up steps)'),
    'train.miniBatches': cite(2, '[OURS] spec §4: 1 epoch of 2 mini-batches of whole groups'),
  },
  rewardUnit: (config) => likelihoodUnit(config.covrl.rewardForm),
  initialState: () => null,
  // methods.md §4 step 1: warn when 0 < α < 1 yet round(α·G) makes every group all-prior or
  // all-posterior (the split is the same at every step, so once per run).
  attach: ({ config }) => {
    const { warning } = sourcesOf(config, 1, 0);
    return warning === undefined ? [] : [warning];
  },
  sample: (input, round) => {
    const { sampledFromPrior } = sourcesOf(input.config, round.contexts.length, round.seed);
    return sampleTraceBatch(input, round, sampledFromPrior);
  },
  scoreOld: (input, batch, chunks) =>
    scoreTracesOld(input, batch, chunks, SCORING, input.config.covrl.rewardForm),
  reward: (input, batch, terms) => ({
    raw: terms['reward'] ?? [],
    valid: batch.rollouts.map(validTrace),
    invalidRule: {
      form: input.config.covrl.rewardForm,
      margin: input.config.covrl.invalidRewardMargin,
    },
  }),
  advantageMethod: (config) => config.covrl.advantageMethod,
  loss: (input, batch, rows, old, rl) => {
    const c = input.config.covrl;
    const mb = pick(batch.rollouts, rows);
    const s = scoreTraceRows(input, batch, rows, SCORING);
    const flag = (f: (r: TraceRollout) => boolean) => tf.tensor1d(mb.map((r) => (f(r) ? 1 : 0)));
    const out = covrlLoss(
      {
        priorLogProbs: s.priorTrace.logProbs,
        posteriorLogProbs: (s.posteriorTrace as { logProbs: tf.Tensor2D }).logProbs,
        oldPriorLogProbs: old.tensors['prior'] as tf.Tensor2D,
        oldPosteriorLogProbs: old.tensors['posterior'] as tf.Tensor2D,
        traceMask: s.priorTrace.mask,
        answerLogProbs: s.answer.logProbs,
        answerMask: s.answer.mask,
        advantages: tf.tensor1d(rl.advantages as number[]),
        rewards: tf.tensor1d(rl.rewards as number[]),
        sampledFromPrior: flag((r) => r.source === 'prior'),
        truncated: flag((r) => r.truncated),
        wellFormed: flag((r) => r.wellFormed),
      },
      {
        alpha: sourcesOf(input.config, 1, 0).alphaEff,
        priorWeight: c.priorWeight,
        clipLow: c.clipLow,
        clipHigh: c.clipHigh,
        klCoef: c.klCoef,
        nllCoef: c.nllCoef,
        logRatioClamp: c.logRatioClamp,
        aggregation: c.aggregation,
        ...(c.klEstimator === 'composite' ? {} : { klEstimator: c.klEstimator }),
      },
    );
    // At α = w the first mini-batch is on-policy for p′: its |log ratio| should be ~0.
    const maxLog = out.metrics['ratio/max_abs_log'];
    return rl.index === 0 && maxLog !== undefined
      ? { ...out, metrics: { ...out.metrics, 'ratio/initial_max_abs_log': maxLog } }
      : out;
  },
  metrics: (input, [record]) => {
    const { rollouts } = record!.batch;
    const prior = rowsWhere(rollouts, (r) => r.source === 'prior');
    const posterior = rowsWhere(rollouts, (r) => r.source !== 'prior');
    const stats = rolloutStats(rollouts);
    return {
      'reward/prior/mean': mean(pick(record!.rewards, prior)),
      'reward/posterior/mean': mean(pick(record!.rewards, posterior)),
      'reward/answer_logprob_prior': mean(pick(record!.terms['answerLogProb'] ?? [], prior)),
      'rollout/prior_fraction': stats.priorFraction,
      ...traceMetrics(rollouts),
      'length/trace_prior_mean': stats.tracePriorMean,
      'length/trace_posterior_mean': stats.tracePosteriorMean,
      ...traceCheckMetrics(record!, input.tags.thinkClose),
      'leak/posterior_answer_in_trace': posteriorAnswerLeak({
        rollouts,
        answers: input.examples.map((e) => e.answer),
        tokenizer: input.tokenizer,
        ...(input.contexts[0] !== undefined ? { thinkClose: input.contexts[0].thinkClose } : {}),
      }),
    };
  },
  // Spread the logged rows across sources: one from each end of the first groups.
  sampleRowsOf: (input, { batch }) => {
    const n = Math.min(input.config.train.logSamples, batch.rollouts.length);
    const last = batch.rollouts.length - 1;
    return Array.from({ length: n }, (_, i) =>
      Math.max(0, Math.min(last, i % 2 === 0 ? i * input.config.train.groupSize : last - i)),
    );
  },
  sampleRow: (input, record, row) =>
    traceSampleRow(input, record, row, input.config.covrl.rewardForm),
  sampledTokens: (r) => r.traceIds.length,
});
