/**
 * VeriFree (arXiv 2505.21493; methods.md §5): prior-only traces, one PRIOR-SCORE pass whose
 * answer span (`enc(y)`, plus `</answer>` by default) gives R = π(y | x, z), RLOO advantages, and
 * one strictly on-policy update of `verifreeLoss` (REINFORCE on the trace plus the R-weighted
 * answer likelihood).
 */
import * as tf from '@tensorflow/tfjs-core';
import { verifreeLoss } from '@covrl/objectives';
import type { TraceRollout } from '@covrl/sampler';
import { cite, SPEC_LR } from '../config/schema.js';
import type { Config } from '../config/schema.js';
import { defineMethod } from '../train/pipeline.js';
import { mean } from '../train/step-metrics.js';
import type { StepInput } from '../train/common.js';
import {
  sampleTraceBatch,
  scoreTraceRows,
  scoreTracesOld,
  traceCheckMetrics,
  traceMetrics,
  traceSampleRow,
  likelihoodUnit,
} from './parts/traces.js';

const scoringOf = (config: Config) =>
  ({
    includePosterior: false,
    answerSpan: config.verifree.includeCloseTag ? 'answer+close' : 'answer',
  }) as const;

/** Invalid rows: malformed, truncated, or an answer over `verifree.maxAnswerTokens` get R = 0. */
const validRow = (input: StepInput, r: TraceRollout): number =>
  r.wellFormed &&
  !r.truncated &&
  (input.contexts[r.exampleIndex]?.answer.length ?? 0) <= input.config.verifree.maxAnswerTokens
    ? 1
    : 0;

export const verifree = defineMethod<TraceRollout, null>({
  name: 'verifree',
  summary:
    'VeriFree: prior-only traces, reward π(y|x,z), RLOO, REINFORCE + reward-weighted answer NLL',
  preset: {
    'train.lr': cite(1e-5, SPEC_LR('§5', 'reference: 1e-6 at 8B')),
    'train.lrSchedule': cite('constant', '[S: reference framework defaults] constant LR (spec §5)'),
    'train.warmupFraction': cite(0, '[OURS] spec §5: constant LR, no warm-up'),
    'train.miniBatches': cite(
      1,
      '[S: VeriFree reference code] one update per rollout batch, strictly on-policy',
    ),
  },
  rewardUnit: (config) => likelihoodUnit(config.verifree.rewardForm),
  onPolicy: () => true,
  initialState: () => null,
  sample: (input, round) =>
    sampleTraceBatch(
      input,
      round,
      new Array<boolean>(round.contexts.length * input.config.train.groupSize).fill(true),
    ),
  scoreOld: (input, batch, chunks) =>
    scoreTracesOld(input, batch, chunks, scoringOf(input.config), input.config.verifree.rewardForm),
  reward: (input, batch, terms) => ({
    raw: terms['reward'] ?? [],
    valid: batch.rollouts.map((r) => validRow(input, r)),
    invalidRule: { form: input.config.verifree.rewardForm, margin: 0 },
  }),
  advantageMethod: (config) => config.verifree.advantageMethod,
  loss: (input, batch, rows, old, rl) => {
    const s = scoreTraceRows(input, batch, rows, scoringOf(input.config));
    return verifreeLoss(
      {
        traceLogProbs: s.priorTrace.logProbs,
        traceMask: s.priorTrace.mask,
        answerLogProbs: s.answer.logProbs,
        answerMask: s.answer.mask,
        advantages: tf.tensor1d(rl.advantages as number[]),
        rewards: tf.tensor1d(rl.rewards as number[]),
        oldTraceLogProbs: old.tensors['prior'] as tf.Tensor2D,
      },
      { answerTermWeight: input.config.verifree.answerTermWeight },
    );
  },
  metrics: (input, [record]) => ({
    'reward/zero_fraction': mean(record!.rewards.map((r) => (r < 1e-12 ? 1 : 0))),
    'reward/prior/mean': mean(record!.raw as number[]),
    ...traceMetrics(record!.batch.rollouts),
    ...traceCheckMetrics(record!, input.tags.thinkClose),
    'length/answer_mean': mean(input.contexts.map((c) => c.answer.length)),
  }),
  // Every reward term of methods.md §5 step 3: L (nats over the answer span), R = exp L before
  // and after the invalid-row rule, and what made a row invalid.
  sampleRow: (input, record, row) => {
    const r = record.batch.rollouts[row] as TraceRollout;
    return {
      ...traceSampleRow(input, record, row, input.config.verifree.rewardForm),
      answerTokens: input.contexts[r.exampleIndex]?.answer.length,
      answerSpan: scoringOf(input.config).answerSpan,
    };
  },
  sampledTokens: (r) => r.traceIds.length,
});
