/**
 * The verifier GRPO reference (methods.md §6): FULL-SAMPLE responses, R = 1 iff the extracted
 * answer passes the family's rule verifier — the function evaluation scores with — and the
 * response is well formed (malformed responses get R = 0, RLPR's exactly-once tag rule), then
 * RLPR's PPO settings exactly, so RLPR versus GRPO isolates the reward. Option: `grpo.klCoef` > 0
 * adds `lowVarKl` to the initial model, frozen when the run attaches (before a resumed run
 * restores its checkpoint, so it is the base model).
 */
import { grpoLoss } from '@covrl/objectives';
import type { ResponseRollout } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import { isCorrect } from '../eval/evaluate.js';
import { defineMethod } from '../train/pipeline.js';
import { RLPR_TRAIN } from './rlpr.js';
import type { FrozenWeights } from './parts/responses.js';
import {
  freezeWeights,
  policyBatch,
  responseMetrics,
  responseSampleRow,
  sampleResponseBatch,
  scoreResponseRows,
  scoreResponsesOld,
  validResponse,
} from './parts/responses.js';

/**
 * Training reward of the verifier GRPO reference: 1 iff its extracted answer passes the family's
 * own rule verifier (`isCorrect`; data without a known family falls back to the generic
 * `isEquivalent` in both) and the response is well formed. The format condition is the one
 * difference from evaluation, on purpose: methods.md §6 gives malformed responses R = 0, while
 * evaluation reads the answer of any response that has one.
 */
export function verifierRewards(
  rollouts: readonly Pick<ResponseRollout, 'exampleIndex' | 'formatValid' | 'extractedAnswer'>[],
  examples: readonly Example[],
): number[] {
  return rollouts.map((r) => {
    const ex = examples[r.exampleIndex];
    return r.formatValid && ex !== undefined && isCorrect(r.extractedAnswer, ex) ? 1 : 0;
  });
}

/** Per run: the frozen initial model when `grpo.klCoef` > 0 (plain arrays: nothing to free). */
interface GrpoState {
  reference: FrozenWeights | undefined;
}

export const grpo = defineMethod<ResponseRollout, GrpoState>({
  name: 'grpo',
  summary: 'verifier GRPO reference: rule-verified 0/1 reward, RLPR PPO settings',
  preset: RLPR_TRAIN(
    ', as RLPR (every PPO setting identical, so RLPR vs GRPO isolates the reward)',
  ),
  rewardUnit: () => 'verifier 0..1',
  initialState: () => ({ reference: undefined }),
  attach: ({ config, model }, state) => {
    state.reference = config.grpo.klCoef > 0 ? freezeWeights(model) : undefined;
    return [];
  },
  sample: async (input, round) => {
    const rollouts = await sampleResponseBatch(input, round.examples, round.contexts, round.seed);
    return { ...round, rollouts, terms: { reward: verifierRewards(rollouts, round.examples) } };
  },
  scoreOld: (input, batch, chunks, state) => {
    if (input.config.grpo.klCoef > 0 && state.reference === undefined) {
      throw new Error(
        'grpo: grpo.klCoef > 0 needs the frozen initial model, which the pipeline keeps when the run attaches, before step 1',
      );
    }
    return scoreResponsesOld(input, batch, chunks, state.reference);
  },
  reward: (_input, batch, terms) => ({
    raw: terms['reward'] ?? [],
    valid: batch.rollouts.map(validResponse),
  }),
  advantageMethod: (config) => config.grpo.advantageMethod,
  loss: (input, batch, rows, old, rl) => {
    const s = scoreResponseRows(input.model, input, batch, rows);
    const ref = old.tensors['ref'];
    const b = policyBatch(s, old, rl);
    return grpoLoss(ref === undefined ? b : { ...b, refLogProbs: ref as typeof s.logProbs }, {
      clipLow: input.config.grpo.clipLow,
      clipHigh: input.config.grpo.clipHigh,
      klCoef: input.config.grpo.klCoef,
    });
  },
  metrics: (_input, records) => responseMetrics(records),
  sampleRow: (_input, record, row) => responseSampleRow(record, row),
  sampledTokens: (r) => r.responseIds.length,
});
