/**
 * CoVRL's step (methods.md §4): hybrid prior/posterior sampling, old scoring of both contexts in
 * one stacked pass, likelihood reward in PRIOR-SCORE with the invalid-row rule, Dr.GRPO
 * advantages over the whole rollout batch, then one clipped update per mini-batch of whole groups
 * through `covrlLoss`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { covrlLoss } from '@covrl/objectives';
import { groupAdvantages } from '@covrl/grpo';
import { applyInvalidRowRule } from '@covrl/rewards';
import {
  assignSources,
  posteriorAnswerLeak,
  rolloutStats,
  sampleTraces,
  scoreTraces,
} from '@covrl/sampler';
import type { TraceRollout } from '@covrl/sampler';
import type { AnswerRewardForm, MethodRunner, StepInput, StepOutput } from './common.js';
import {
  answerRewardAndLogProb,
  applyUpdate,
  mean,
  mergeMetrics,
  miniBatchRows,
  rewardStats,
} from './common.js';

/** Detached old-policy scores of one mini-batch, kept until its update. */
interface OldScores {
  readonly rows: number[];
  readonly priorTrace: tf.Tensor2D;
  readonly posteriorTrace: tf.Tensor2D;
  readonly reward: number[];
  readonly answerLogProb: number[];
}

const pick = <T>(xs: readonly T[], rows: readonly number[]): T[] => rows.map((r) => xs[r] as T);

export function covrlRunner(): MethodRunner {
  return {
    name: 'covrl',
    getState: () => null,
    setState: () => undefined,
    attach({ config }) {
      // methods.md §4 step 1: warn when 0 < α < 1 yet round(α·G) makes every group all-prior or
      // all-posterior (the split is the same at every step, so once per run).
      const { warning } = assignSources({
        numGroups: 1,
        groupSize: config.train.groupSize,
        alpha: config.covrl.alpha,
        split: config.covrl.hybridSplit as 'deterministic' | 'random',
        seed: 0,
      });
      return warning === undefined ? [] : [warning];
    },
    async step(input: StepInput): Promise<StepOutput> {
      const { config, model, tokenizer, tags, contexts } = input;
      const c = config.covrl;
      const G = config.train.groupSize;
      const Q = contexts.length;
      const sources = assignSources({
        numGroups: Q,
        groupSize: G,
        alpha: c.alpha,
        split: c.hybridSplit as 'deterministic' | 'random',
        seed: input.seed,
      });
      const rollouts = await sampleTraces(model, {
        contexts,
        groupSize: G,
        sampledFromPrior: sources.sampledFromPrior,
        temperature: config.train.temperature,
        maxTraceTokens: config.train.maxTraceTokens,
        seed: input.seed,
        ...(tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {}),
        tokenizer,
        tags,
      });
      const form = c.rewardForm as AnswerRewardForm;
      const chunks = miniBatchRows(rollouts.length, G, config.train.miniBatches);

      // Old scoring with the behaviour parameters, before any update of this step. Each
      // mini-batch's old scores are freed after its update; whatever is left when a step stops
      // early (a non-finite value in a later mini-batch) is freed in the `finally`, since compare
      // goes on in this process.
      const olds: OldScores[] = [];
      const rawReward = new Array<number>(rollouts.length).fill(0);
      const answerLogProb = new Array<number>(rollouts.length).fill(0);
      const valid = rollouts.map((r) => (r.wellFormed && !r.truncated ? 1 : 0));
      let rewards: number[];
      let advantages: number[];
      const parts: Record<string, number>[] = [];
      try {
        for (const rows of chunks) {
          olds.push(
            tf.tidy(() => {
              const s = scoreTraces(model, {
                rollouts: pick(rollouts, rows),
                contexts,
                includePosterior: true,
                answerSpan: 'answer',
                temperature: config.train.temperature,
              });
              const { reward, logProb: lp } = answerRewardAndLogProb(s.answer, form);
              const out = {
                rows,
                priorTrace: tf.keep(s.priorTrace.logProbs),
                posteriorTrace: tf.keep((s.posteriorTrace as { logProbs: tf.Tensor2D }).logProbs),
                reward: Array.from(reward.dataSync()),
                answerLogProb: Array.from(lp.dataSync()),
              };
              return out as unknown as tf.TensorContainer;
            }) as unknown as OldScores,
          );
        }

        for (const o of olds) {
          o.rows.forEach((r, i) => {
            rawReward[r] = o.reward[i] as number;
            answerLogProb[r] = o.answerLogProb[i] as number;
          });
        }
        [rewards, advantages] = tf.tidy(() => {
          const R = applyInvalidRowRule({
            rewards: tf.tensor1d(rawReward),
            valid: tf.tensor1d(valid),
            groupSize: G,
            form,
            margin: c.invalidRewardMargin,
          });
          const A = groupAdvantages({
            rewards: R,
            groupSize: G,
            method: c.advantageMethod as 'grpo' | 'dr-grpo' | 'rloo',
          });
          return [Array.from(R.dataSync()), Array.from(A.dataSync())];
        }) as unknown as [number[], number[]];

        olds.forEach((old, k) => {
          const mb = pick(rollouts, old.rows);
          const m = applyUpdate(input, () => {
            const s = scoreTraces(model, {
              rollouts: mb,
              contexts,
              includePosterior: true,
              answerSpan: 'answer',
              temperature: config.train.temperature,
            });
            return covrlLoss(
              {
                priorLogProbs: s.priorTrace.logProbs,
                posteriorLogProbs: (s.posteriorTrace as { logProbs: tf.Tensor2D }).logProbs,
                oldPriorLogProbs: old.priorTrace,
                oldPosteriorLogProbs: old.posteriorTrace,
                traceMask: s.priorTrace.mask,
                answerLogProbs: s.answer.logProbs,
                answerMask: s.answer.mask,
                advantages: tf.tensor1d(pick(advantages, old.rows)),
                rewards: tf.tensor1d(pick(rewards, old.rows)),
                sampledFromPrior: tf.tensor1d(mb.map((r) => (r.source === 'prior' ? 1 : 0))),
                truncated: tf.tensor1d(mb.map((r) => (r.truncated ? 1 : 0))),
                wellFormed: tf.tensor1d(mb.map((r) => (r.wellFormed ? 1 : 0))),
              },
              {
                alpha: sources.alphaEff,
                priorWeight: c.priorWeight,
                clipLow: c.clipLow,
                clipHigh: c.clipHigh,
                klCoef: c.klCoef,
                nllCoef: c.nllCoef,
                logRatioClamp: c.logRatioClamp,
                aggregation: c.aggregation as 'token-mean',
                ...(c.klEstimator === 'composite' ? {} : { klEstimator: c.klEstimator as 'k3' }),
              },
            );
          });
          // At α = w the first mini-batch is on-policy for p′: its |log ratio| should be ~0.
          if (k === 0 && m['ratio/max_abs_log'] !== undefined) {
            m['ratio/initial_max_abs_log'] = m['ratio/max_abs_log'];
          }
          parts.push(m);
          old.priorTrace.dispose();
          old.posteriorTrace.dispose();
        });
      } finally {
        // Disposing a disposed tensor is a no-op: this frees only what the loop did not reach.
        for (const o of olds) tf.dispose([o.priorTrace, o.posteriorTrace]);
      }

      const priorRows = rollouts
        .map((r, i) => (r.source === 'prior' ? i : -1))
        .filter((i) => i >= 0);
      const postRows = rollouts
        .map((r, i) => (r.source === 'prior' ? -1 : i))
        .filter((i) => i >= 0);
      const stats = rolloutStats(rollouts);
      const metrics: Record<string, number> = {
        ...mergeMetrics(parts),
        ...rewardStats(rewards, G),
        'reward/prior/mean': mean(pick(rewards, priorRows)),
        'reward/posterior/mean': mean(pick(rewards, postRows)),
        'reward/invalid_fraction': 1 - mean(valid),
        'reward/answer_logprob_prior': mean(pick(answerLogProb, priorRows)),
        'advantage/std': Math.sqrt(mean(advantages.map((a) => a * a)) - mean(advantages) ** 2),
        'rollout/prior_fraction': stats.priorFraction,
        'rollout/truncated_fraction': stats.truncatedFraction,
        'rollout/malformed_fraction': stats.malformedFraction,
        'length/trace_mean': stats.traceMean,
        'length/trace_prior_mean': stats.tracePriorMean,
        'length/trace_posterior_mean': stats.tracePosteriorMean,
        'length/trace_max': stats.traceMax,
        'leak/posterior_answer_in_trace': posteriorAnswerLeak({
          rollouts,
          answers: input.examples.map((e) => e.answer),
          tokenizer,
          ...(contexts[0] !== undefined ? { thinkClose: contexts[0].thinkClose } : {}),
        }),
      };
      return {
        metrics,
        samples: sampleRows(input, rollouts, {
          answerLogProb,
          rawReward,
          valid,
          rewards,
          advantages,
        }),
      };
    },
  };
}

/** Per-row reward terms of one CoVRL step (methods.md §4 steps 4–5). */
interface RowTerms {
  /** log p(y | x, z) summed over the answer tokens, PRIOR-SCORE, old parameters (nats). */
  readonly answerLogProb: readonly number[];
  /** The reward in `covrl.rewardForm`, before the invalid-row rule. */
  readonly rawReward: readonly number[];
  /** 1 where the row is valid (well formed and not truncated), 0 where the rule replaced it. */
  readonly valid: readonly number[];
  /** The reward after the invalid-row rule. */
  readonly rewards: readonly number[];
  readonly advantages: readonly number[];
}

/** The first `train.logSamples` rollouts with their text and every reward term. */
function sampleRows(
  input: StepInput,
  rollouts: readonly TraceRollout[],
  terms: RowTerms,
): Record<string, unknown>[] {
  const n = Math.min(input.config.train.logSamples, rollouts.length);
  const out: Record<string, unknown>[] = [];
  // Spread the logged rows across sources: one from each end of the first groups.
  for (let i = 0; i < n; i++) {
    const row = i % 2 === 0 ? i * input.config.train.groupSize : rollouts.length - 1 - i;
    const r = rollouts[Math.max(0, Math.min(rollouts.length - 1, row))] as TraceRollout;
    const ex = input.examples[r.exampleIndex];
    out.push({
      question: ex?.question,
      answer: ex?.answer,
      source: r.source,
      trace: input.tokenizer.decode(r.traceIds),
      traceTokens: r.traceIds.length,
      finishReason: r.finishReason,
      truncated: r.truncated,
      wellFormed: r.wellFormed,
      answerLogProb: terms.answerLogProb[r.row],
      rewardForm: input.config.covrl.rewardForm,
      rawReward: terms.rawReward[r.row],
      invalidRule: terms.valid[r.row] === 0,
      reward: terms.rewards[r.row],
      advantage: terms.advantages[r.row],
    });
  }
  return out;
}
