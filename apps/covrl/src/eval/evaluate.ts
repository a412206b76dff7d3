/**
 * Evaluation (methods.md §1 rule 5): FULL-SAMPLE with the question only, stop at `</answer>`,
 * extract the text between the first `<answer>` after `</think>` and the next `</answer>`, and
 * check it with the family's rule verifier. Greedy pass@1 and sampled avg@k, each in total, per
 * family and per domain; and `eval/answer_logprob` (methods.md §4, "prior context only"): the
 * log-likelihood of the reference answer in PRIOR-SCORE after the model's own greedy trace.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildContexts, indexOfIds, sampleResponses, scoreTraces } from '@covrl/sampler';
import type { ExampleContexts, Policy, ResponseRollout, Tags, Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import { getFamily } from '@covrl/data';
import { answerLikelihoodReward, isEquivalent } from '@covrl/rewards';
import * as E from 'fp-ts/lib/Either.js';
import type { SplitResult, Tally } from '../report/results.js';

export interface EvalOptions {
  readonly policy: Policy;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  readonly examples: readonly Example[];
  /** Samples per question for avg@k (0 skips the sampled pass). */
  readonly samples: number;
  readonly temperature: number;
  readonly maxNewTokens: number;
  readonly seed: number;
  /** Prompts per generate call (bounds memory; results do not depend on it). */
  readonly batchSize?: number;
  /** Also measure the reference answer's log-likelihood after the greedy trace (default true). */
  readonly answerLogProb?: boolean;
  /**
   * The model's context length: a question whose PRIOR-SCORE sequence would be longer is left out
   * of the answer log-likelihood (it still counts for accuracy). Absent: no limit.
   */
  readonly maxContext?: number;
}

/** Correct iff the extracted answer passes the family's verifier (or, for imported data, the generic one). */
export function isCorrect(extracted: string | undefined, example: Example): boolean {
  if (extracted === undefined) return false;
  const family = getFamily(example.family);
  if (E.isRight(family)) return family.right.verify(extracted, example);
  return isEquivalent(extracted, example.answer);
}

const add = (t: Tally, correct: number, total: number): Tally => ({
  correct: t.correct + correct,
  total: t.total + total,
});

/** Add one outcome to the tally of `key` in `table`. */
function count(table: Record<string, Tally>, key: string, ok: number): void {
  table[key] = add(table[key] ?? { correct: 0, total: 0 }, ok, 1);
}

/**
 * The greedy response's trace as PRIOR-SAMPLE would have produced it: its ids through the first
 * `</think>` (FULL-SAMPLE and PRIOR-SAMPLE share the prompt, so greedy decoding writes the same
 * ids up to there). A response that never closes its trace (token budget, EOS) is closed with the
 * `</think>` ids after what it wrote (EOS dropped), so the answer is still scored in the
 * PRIOR-SCORE shape: "how likely is the reference after the reasoning the model did write?".
 */
export function greedyTraceIds(
  r: Pick<ResponseRollout, 'responseIds'>,
  ctx: Pick<ExampleContexts, 'thinkClose'>,
  eosId?: number,
): number[] {
  const at = indexOfIds(r.responseIds, ctx.thinkClose);
  if (at >= 0) return r.responseIds.slice(0, at + ctx.thinkClose.length);
  const ids = r.responseIds.filter((id) => id !== eosId);
  return [...ids, ...ctx.thinkClose];
}

/**
 * Σ_k log p(y_k | x, z, y_<k) per row in PRIOR-SCORE (`priorPrefix ‖ z ‖ answerOpen ‖ y`), the
 * `'log-prob-sum'` form of CoVRL's reward, with the given traces; `undefined` for rows whose
 * sequence would exceed `maxContext`.
 */
function answerLogProbs(
  policy: Policy,
  contexts: readonly ExampleContexts[],
  traces: readonly number[][],
  maxContext: number | undefined,
): (number | undefined)[] {
  const fits = traces.map((z, i) => {
    const c = contexts[i] as ExampleContexts;
    const length =
      c.priorPrefix.length +
      z.length +
      c.answerOpen.length +
      c.answer.length +
      c.answerClose.length;
    return maxContext === undefined || length <= maxContext;
  });
  const rows = traces
    .map((traceIds, exampleIndex) => ({ exampleIndex, traceIds }))
    .filter((r) => fits[r.exampleIndex] === true);
  const out: (number | undefined)[] = traces.map(() => undefined);
  if (rows.length === 0) return out;
  const values = tf.tidy(() => {
    const s = scoreTraces(policy, {
      rollouts: rows,
      contexts,
      includePosterior: false,
      answerSpan: 'answer',
    });
    return Array.from(
      answerLikelihoodReward({
        answerLogProbs: s.answer.logProbs,
        answerMask: s.answer.mask,
        form: 'log-prob-sum',
      }).dataSync(),
    );
  });
  rows.forEach((r, k) => {
    out[r.exampleIndex] = values[k];
  });
  return out;
}

/**
 * Greedy pass@1 and sampled avg@k of `policy` on `examples`, in total, per family and per domain,
 * and the mean log-likelihood of the reference answers after the model's own greedy traces.
 */
export async function evaluate(options: EvalOptions): Promise<SplitResult> {
  const { policy, tokenizer, tags, examples } = options;
  const contexts: ExampleContexts[] = examples.map((e) =>
    buildContexts({ tokenizer, tags, question: e.question, answer: e.answer }),
  );
  const batch = options.batchSize ?? 64;
  let greedy: Tally = { correct: 0, total: 0 };
  let sampled: Tally = { correct: 0, total: 0 };
  const byFamily: Record<string, Tally> = {};
  const byDomain: Record<string, Tally> = {};
  const sampledByFamily: Record<string, Tally> = {};
  const sampledByDomain: Record<string, Tally> = {};
  let logProbSum = 0;
  let logProbRows = 0;
  for (let start = 0; start < examples.length; start += batch) {
    const exs = examples.slice(start, start + batch);
    const ctx = contexts.slice(start, start + batch);
    const common = {
      contexts: ctx,
      maxNewTokens: options.maxNewTokens,
      ...(tokenizer.eosId !== undefined ? { eosId: tokenizer.eosId } : {}),
      tokenizer,
      tags,
    };
    const g = await sampleResponses(policy, {
      ...common,
      groupSize: 1,
      temperature: 0,
      seed: options.seed,
    });
    g.forEach((r) => {
      const ex = exs[r.exampleIndex] as Example;
      const ok = isCorrect(r.extractedAnswer, ex) ? 1 : 0;
      greedy = add(greedy, ok, 1);
      count(byFamily, ex.family, ok);
      count(byDomain, ex.domain, ok);
    });
    if (options.answerLogProb !== false && g.length > 0) {
      // One greedy row per question, in question order.
      const traces = ctx.map((c, i) => {
        const r = g.find((x) => x.exampleIndex === i) as ResponseRollout;
        return greedyTraceIds(r, c, tokenizer.eosId);
      });
      for (const v of answerLogProbs(policy, ctx, traces, options.maxContext)) {
        if (v === undefined) continue;
        logProbSum += v;
        logProbRows++;
      }
    }
    if (options.samples > 0) {
      const s = await sampleResponses(policy, {
        ...common,
        groupSize: options.samples,
        temperature: options.temperature,
        seed: options.seed + start + 1,
      });
      s.forEach((r) => {
        const ex = exs[r.exampleIndex] as Example;
        const ok = isCorrect(r.extractedAnswer, ex) ? 1 : 0;
        sampled = add(sampled, ok, 1);
        count(sampledByFamily, ex.family, ok);
        count(sampledByDomain, ex.domain, ok);
      });
    }
  }
  return {
    greedy,
    sampled: { ...sampled, k: options.samples },
    byFamily,
    byDomain,
    sampledByFamily,
    sampledByDomain,
    ...(logProbRows > 0
      ? { answerLogProb: logProbSum / logProbRows, answerLogProbQuestions: logProbRows }
      : {}),
  };
}
