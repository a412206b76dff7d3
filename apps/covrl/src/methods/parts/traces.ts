/**
 * The parts CoVRL and VeriFree share (methods.md §4–§5): sampling a trace per row from the prior
 * or the posterior template, scoring traces and the reference answer after them (PRIOR-SCORE,
 * and POSTERIOR for CoVRL's mixture), the answer-likelihood reward read off that pass, the trace
 * metrics and a logged row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { answerLikelihoodReward, rewardFormUnit } from '@covrl/rewards';
import type { RewardForm } from '@covrl/rewards';
import { getFamily } from '@covrl/data';
import * as E from 'fp-ts/lib/Either.js';
import { rolloutStats, sampleTraces, scoreTraces } from '@covrl/sampler';
import type { AnswerSpan, TraceRollout, TraceScores } from '@covrl/sampler';
import type { StepInput } from '../../train/common.js';
import { pick } from '../../train/step-metrics.js';
import type { BatchRecord, OldPass, SampledBatch, SampleRound } from '../../train/method-spec.js';

/** Traces for the step's questions; `sampledFromPrior[r]` picks row `r`'s template. */
export async function sampleTraceBatch(
  input: StepInput,
  round: SampleRound,
  sampledFromPrior: readonly boolean[],
): Promise<SampledBatch<TraceRollout>> {
  const { config, model, tokenizer, tags } = input;
  const { examples, contexts, seed } = round;
  const rollouts = await sampleTraces(model, {
    contexts,
    groupSize: config.train.groupSize,
    sampledFromPrior,
    temperature: config.train.temperature,
    maxTraceTokens: config.train.maxTraceTokens,
    seed,
    ...(tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {}),
    tokenizer,
    tags,
  });
  return { examples, contexts, rollouts, terms: {} };
}

/** Which passes a trace method scores. */
export interface TraceScoring {
  /** Also score the trace under the POSTERIOR template (CoVRL's p′ needs both). */
  readonly includePosterior: boolean;
  readonly answerSpan: AnswerSpan;
}

/** Score `rows` of `batch` with the current parameters (logits divided by τ, methods.md §3.1). */
export function scoreTraceRows(
  input: StepInput,
  batch: SampledBatch<TraceRollout>,
  rows: readonly number[],
  scoring: TraceScoring,
): TraceScores {
  return scoreTraces(input.model, {
    rollouts: pick(batch.rollouts, rows),
    contexts: batch.contexts,
    includePosterior: scoring.includePosterior,
    answerSpan: scoring.answerSpan,
    temperature: input.config.train.temperature,
  });
}

/**
 * The answer-likelihood reward of `form` for a scored answer span (`logProbs`, `mask` `[B, A]`)
 * and, for the logs, its summed log-likelihood log p(y | x, z), both `[B]`. When `form` is
 * already `'log-prob-sum'` the two are the same tensor (one reduction, not two).
 */
export function answerRewardAndLogProb(
  answer: { readonly logProbs: tf.Tensor; readonly mask: tf.Tensor },
  form: RewardForm,
): { reward: tf.Tensor1D; logProb: tf.Tensor1D } {
  const of = (f: RewardForm): tf.Tensor1D =>
    answerLikelihoodReward({ answerLogProbs: answer.logProbs, answerMask: answer.mask, form: f });
  const reward = of(form);
  return { reward, logProb: form === 'log-prob-sum' ? reward : of('log-prob-sum') };
}

/**
 * The old (behaviour) pass of each mini-batch: detached trace log-probs (`prior`, and `posterior`
 * when scored) for the importance ratio, and the per-row terms `reward` (in `form`, before the
 * invalid-row rule) and `answerLogProb` (log p(y | x, z), nats) read off the same forward pass.
 */
export function scoreTracesOld(
  input: StepInput,
  batch: SampledBatch<TraceRollout>,
  chunks: readonly number[][],
  scoring: TraceScoring,
  form: RewardForm,
): OldPass[] {
  const out: OldPass[] = [];
  try {
    for (const rows of chunks) {
      out.push(
        tf.tidy(() => {
          const s = scoreTraceRows(input, batch, rows, scoring);
          const { reward, logProb } = answerRewardAndLogProb(s.answer, form);
          const tensors: Record<string, tf.Tensor> = { prior: tf.keep(s.priorTrace.logProbs) };
          if (s.posteriorTrace !== undefined)
            tensors['posterior'] = tf.keep(s.posteriorTrace.logProbs);
          const terms = {
            reward: Array.from(reward.dataSync()),
            answerLogProb: Array.from(logProb.dataSync()),
          };
          return { tensors, terms } as unknown as tf.TensorContainer;
        }) as unknown as OldPass,
      );
    }
    return out;
  } catch (error) {
    for (const o of out) tf.dispose(Object.values(o.tensors));
    throw error;
  }
}

/**
 * The unit of an answer-likelihood reward, for progress lines: a log-likelihood reward of 0 is
 * the best possible, a probability reward of 0 the worst, so a bare "0.000" would mislead.
 */
export const likelihoodUnit = (form: RewardForm): string =>
  rewardFormUnit[form] === 'log-prob' ? 'log p(y), nats ≤ 0' : 'p(y) 0..1';

/** 1 where a trace is well formed and not truncated (methods.md §3.2). */
export const validTrace = (r: TraceRollout): number => (r.wellFormed && !r.truncated ? 1 : 0);

/** Trace length and format metrics of a step's rollouts. */
export function traceMetrics(rollouts: readonly TraceRollout[]): Record<string, number> {
  const stats = rolloutStats(rollouts);
  return {
    'rollout/truncated_fraction': stats.truncatedFraction,
    'rollout/malformed_fraction': stats.malformedFraction,
    'length/trace_mean': stats.traceMean,
    'length/trace_max': stats.traceMax,
  };
}

/**
 * Step-correctness of the step's traces by source (issue 12's diagnostic): for rows whose
 * example's family has a trace checker (`Family.checkTrace` of `@covrl/data`), the share whose
 * trace body (the text before `thinkClose`) is correct at every step, and the share whose trace
 * reaches the reference answer, per source. Keys appear only for sources with checked rows.
 */
export function traceCheckMetrics(
  record: BatchRecord<TraceRollout>,
  thinkClose: string,
): Record<string, number> {
  const tally: Record<string, { rows: number; correct: number; reaches: number }> = {};
  for (const r of record.batch.rollouts) {
    const ex = record.batch.examples[r.exampleIndex];
    const family = ex === undefined ? undefined : getFamily(ex.family);
    const check = family !== undefined && E.isRight(family) ? family.right.checkTrace : undefined;
    if (ex === undefined || check === undefined) continue;
    const at = r.text.indexOf(thinkClose);
    const v = check(ex, at < 0 ? r.text : r.text.slice(0, at));
    const t = (tally[r.source] ??= { rows: 0, correct: 0, reaches: 0 });
    t.rows++;
    if (v.stepCorrect) t.correct++;
    if (v.traceAnswer !== undefined && v.traceAnswer.trim() === ex.answer.trim()) t.reaches++;
  }
  const out: Record<string, number> = {};
  for (const [source, t] of Object.entries(tally)) {
    out[`trace/step_correct/${source}`] = t.correct / t.rows;
    out[`trace/reaches_answer/${source}`] = t.reaches / t.rows;
  }
  return out;
}

/** A logged trace row: question, answer, source, the decoded trace and every reward term. */
export function traceSampleRow(
  input: StepInput,
  record: BatchRecord<TraceRollout>,
  row: number,
  rewardForm: RewardForm,
): Record<string, unknown> {
  const r = record.batch.rollouts[row] as TraceRollout;
  const ex = record.batch.examples[r.exampleIndex];
  return {
    question: ex?.question,
    answer: ex?.answer,
    source: r.source,
    trace: input.tokenizer.decode(r.traceIds),
    traceTokens: r.traceIds.length,
    finishReason: r.finishReason,
    truncated: r.truncated,
    wellFormed: r.wellFormed,
    answerLogProb: record.terms['answerLogProb']?.[r.row],
    rewardForm,
    rawReward: record.raw[r.row],
    invalidRule: record.valid[r.row] === 0,
    reward: record.rewards[r.row],
    advantage: record.advantages[r.row],
  };
}
