/**
 * RLPR (arXiv 2506.18254; methods.md §6): FULL-SAMPLE responses; the reward is the mean token
 * probability of the reference answer spliced after the model's own `<answer>`, debiased by a
 * frozen no-reasoning baseline r′, plus a format term and a repetition penalty; prompts are
 * filtered by reward std (the pipeline's generation rounds); PPO with clip-higher. Options:
 * gradients on trace tokens only (`rlpr.traceOnlyGradient`) and the full-vocabulary entropy
 * bonus (`rlpr.entropyCoef`).
 */
import { rlprLoss } from '@covrl/objectives';
import type { ResponseRollout } from '@covrl/sampler';
import { cite, SPEC_LR } from '../config/schema.js';
import type { Cited, Config } from '../config/schema.js';
import { defineMethod } from '../train/pipeline.js';
import { mean, pick } from '../train/step-metrics.js';
import {
  policyBatch,
  responseMetrics,
  responseSampleRow,
  sampleResponseBatch,
  scoreResponseRows,
  scoreResponsesOld,
} from './parts/responses.js';
import { responseEntropy, traceOnlyMask } from './parts/response-terms.js';
import { baselines, rewardTerms } from './parts/rlpr-reward.js';
import type { RlprState } from './parts/rlpr-reward.js';

/** RLPR's PPO schedule, which the verifier GRPO reference copies (spec §6). */
export const RLPR_TRAIN = (who: string): Record<string, Cited> => ({
  'train.lr': cite(1e-5, SPEC_LR('§6', 'reference: 1e-6')),
  'train.lrSchedule': cite('constant', `[OURS] spec §6: constant LR${who}`),
  'train.warmupFraction': cite(0, `[OURS] spec §6: constant LR, no warm-up${who}`),
  'train.miniBatches': cite(
    2,
    `[OURS] spec §6: 2 mini-batches per rollout batch (reference: 4)${who}`,
  ),
});

export const rlpr = defineMethod<ResponseRollout, RlprState>({
  name: 'rlpr',
  summary: 'RLPR: debiased mean probability of the spliced reference answer, std filter, PPO',
  preset: RLPR_TRAIN(''),
  rewardUnit: () => 'debiased p(y) + format, ≤ 1',
  generationRounds: (config: Config) => ({
    enabled: config.rlpr.stdFilter,
    maxRounds: config.rlpr.maxGenerationRounds,
    update: config.rlpr.stdFilterUpdate,
    beta: config.rlpr.stdFilterBeta,
    decay: config.rlpr.stdFilterDecay,
    emaStartStep: config.rlpr.emaStartStep,
    filterStartStep: config.rlpr.filterStartStep,
  }),
  initialState: () => ({ baseline: {} }),
  persistState: (state) => state,
  restoreState: (saved) => ({ baseline: (saved as RlprState).baseline }),
  // r′ is frozen at the initial model [S: RLPR reference code]: computed before step 1 for the
  // whole training pool, in batches of 64 contexts.
  init: (input, state) => {
    if (!input.config.rlpr.debias) return;
    for (let i = 0; i < input.examples.length; i += 64) {
      baselines(input, state, input.examples.slice(i, i + 64), input.contexts.slice(i, i + 64));
    }
  },
  sample: async (input, round, state) => {
    const rollouts = await sampleResponseBatch(input, round.examples, round.contexts, round.seed);
    return { ...round, rollouts, terms: rewardTerms(input, state, round, rollouts) };
  },
  scoreOld: (input, batch, chunks) => scoreResponsesOld(input, batch, chunks),
  reward: (_input, batch, terms) => ({ raw: terms['reward'] ?? [], valid: terms['format'] ?? [] }),
  advantageMethod: (config) => config.rlpr.advantageMethod,
  loss: (input, batch, rows, old, rl) => {
    const { clipLow, clipHigh, entropyCoef, traceOnlyGradient } = input.config.rlpr;
    const mb = pick(batch.rollouts, rows);
    const s = scoreResponseRows(input.model, input, batch, rows);
    const mask = traceOnlyGradient ? traceOnlyMask(s.mask, mb, batch.contexts) : s.mask;
    const b = policyBatch(s, old, rl, mask);
    const temperature = input.config.train.temperature;
    const entropy = () =>
      responseEntropy(input.model, { rollouts: mb, contexts: batch.contexts, temperature });
    return rlprLoss(entropyCoef > 0 ? { ...b, entropy: entropy() } : b, {
      clipLow,
      clipHigh,
      entropyCoef,
    });
  },
  metrics: (input, records) => {
    const term = (k: string) => records.flatMap((r) => r.batch.terms[k] ?? []);
    return {
      'reward/raw_prob_mean': mean(term('raw')),
      ...(input.config.rlpr.debias
        ? {
            'reward/baseline_mean': mean(term('baseline')),
            'reward/debiased_zero_fraction': mean(term('debiased').map((d) => (d <= 0 ? 1 : 0))),
          }
        : {}),
      'reward/format_mean': mean(term('format')),
      'reward/repetition_fraction': mean(term('repetition').map((p) => (p < 0 ? 1 : 0))),
      ...responseMetrics(records),
    };
  },
  sampleRow: (_input, record, row) => responseSampleRow(record, row),
  sampledTokens: (r) => r.responseIds.length,
});
