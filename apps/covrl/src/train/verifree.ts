/**
 * VeriFree's step (methods.md §5): prior-only trace sampling, one PRIOR-SCORE pass whose answer
 * span (`enc(y)`, plus `</answer>` by default) gives R = π(y|x,z), RLOO advantages, and one
 * strictly on-policy update of `verifreeLoss` (REINFORCE on the trace + R-weighted answer
 * likelihood).
 */
import * as tf from '@tensorflow/tfjs-core';
import { verifreeLoss } from '@covrl/objectives';
import { groupAdvantages } from '@covrl/grpo';
import { applyInvalidRowRule } from '@covrl/rewards';
import { rolloutStats, sampleTraces, scoreTraces } from '@covrl/sampler';
import type { MethodRunner, StepInput, StepOutput } from './common.js';
import { answerRewardAndLogProb, applyUpdate, mean, rewardStats } from './common.js';

export function verifreeRunner(): MethodRunner {
  return {
    name: 'verifree',
    getState: () => null,
    setState: () => undefined,
    async step(input: StepInput): Promise<StepOutput> {
      const { config, model, tokenizer, tags, contexts } = input;
      const v = config.verifree;
      const G = config.train.groupSize;
      const rollouts = await sampleTraces(model, {
        contexts,
        groupSize: G,
        sampledFromPrior: new Array<boolean>(contexts.length * G).fill(true),
        temperature: config.train.temperature,
        maxTraceTokens: config.train.maxTraceTokens,
        seed: input.seed,
        ...(tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {}),
        tokenizer,
        tags,
      });
      const answerSpan = v.includeCloseTag ? 'answer+close' : 'answer';
      const form = v.rewardForm as 'prob';
      // Invalid rows: malformed, truncated, or an answer over the token budget get R = 0.
      const valid = rollouts.map((r) =>
        r.wellFormed &&
        !r.truncated &&
        (contexts[r.exampleIndex]?.answer.length ?? 0) <= v.maxAnswerTokens
          ? 1
          : 0,
      );
      const scoreArgs = {
        rollouts,
        contexts,
        includePosterior: false,
        answerSpan,
        temperature: config.train.temperature,
      } as const;
      // Rewards and advantages are detached: one no-grad pass, then the graded pass of the update.
      const { rewards, advantages, oldTrace, rawProb, logProb } = tf.tidy(() => {
        const s = scoreTraces(model, scoreArgs);
        const { reward: raw, logProb: lp } = answerRewardAndLogProb(s.answer, form);
        const R = applyInvalidRowRule({
          rewards: raw,
          valid: tf.tensor1d(valid),
          groupSize: G,
          form,
          margin: 0,
        });
        const A = groupAdvantages({
          rewards: R,
          groupSize: G,
          method: v.advantageMethod as 'rloo',
        });
        return {
          rewards: R,
          advantages: A,
          oldTrace: s.priorTrace.logProbs,
          rawProb: raw,
          logProb: lp,
        };
      });
      let rewardValues: number[];
      let advValues: number[];
      let rawValues: number[];
      let logProbValues: number[];
      let m: Record<string, number>;
      try {
        rewardValues = Array.from(await rewards.data());
        advValues = Array.from(await advantages.data());
        rawValues = Array.from(await rawProb.data());
        logProbValues = Array.from(await logProb.data());
        m = applyUpdate(input, () => {
          const s = scoreTraces(model, scoreArgs);
          return verifreeLoss(
            {
              traceLogProbs: s.priorTrace.logProbs,
              traceMask: s.priorTrace.mask,
              answerLogProbs: s.answer.logProbs,
              answerMask: s.answer.mask,
              advantages,
              rewards,
              oldTraceLogProbs: oldTrace,
            },
            { answerTermWeight: v.answerTermWeight as 'reward' },
          );
        });
      } finally {
        // Also when the update stops on a non-finite value: compare goes on in this process.
        tf.dispose([rewards, advantages, oldTrace, rawProb, logProb]);
      }
      const stats = rolloutStats(rollouts);
      const metrics: Record<string, number> = {
        ...m,
        ...rewardStats(rewardValues, G),
        'reward/zero_fraction': mean(rewardValues.map((r) => (r < 1e-12 ? 1 : 0))),
        'reward/invalid_fraction': 1 - mean(valid),
        'reward/prior/mean': mean(rawValues),
        'advantage/std': Math.sqrt(mean(advValues.map((a) => a * a)) - mean(advValues) ** 2),
        'rollout/truncated_fraction': stats.truncatedFraction,
        'rollout/malformed_fraction': stats.malformedFraction,
        'length/trace_mean': stats.traceMean,
        'length/trace_max': stats.traceMax,
        'length/answer_mean': mean(contexts.map((c) => c.answer.length)),
      };
      // Every reward term of methods.md §5 step 3: L (nats over the answer span), R = exp L
      // before and after the invalid-row rule, and what made a row invalid.
      const samples = rollouts.slice(0, config.train.logSamples).map((r) => ({
        question: input.examples[r.exampleIndex]?.question,
        answer: input.examples[r.exampleIndex]?.answer,
        source: r.source,
        trace: tokenizer.decode(r.traceIds),
        traceTokens: r.traceIds.length,
        finishReason: r.finishReason,
        truncated: r.truncated,
        wellFormed: r.wellFormed,
        answerTokens: contexts[r.exampleIndex]?.answer.length,
        answerSpan,
        answerLogProb: logProbValues[r.row],
        rewardForm: form,
        rawReward: rawValues[r.row],
        invalidRule: valid[r.row] === 0,
        reward: rewardValues[r.row],
        advantage: advValues[r.row],
      }));
      return { metrics, samples };
    },
  };
}
