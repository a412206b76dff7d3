/**
 * RLPR and the verifier GRPO reference (methods.md §6): the model samples its whole response
 * (FULL-SAMPLE), is scored on its own tokens, and differs only in the reward. RLPR prices the
 * reference answer spliced after the model's own `<answer>` (mean token probability, debiased by
 * a frozen no-reasoning baseline, plus a format term and a repetition penalty) and filters prompts
 * by reward std; GRPO uses the rule verifier of each family, the same one evaluation uses.
 * Everything else (clip 0.2/0.27, token-mean, `'grpo'` advantages) is identical, so RLPR versus
 * GRPO isolates the reward. Options: RLPR's entropy bonus (`rlpr.entropyCoef`, full-vocabulary
 * entropy of the response tokens) and GRPO's KL to the frozen initial model (`grpo.klCoef`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { grpoLoss, rlprLoss } from '@covrl/objectives';
import { groupAdvantages, stdFilterInit, stdFilterKeep, stdFilterStep } from '@covrl/grpo';
import type { StdFilterState } from '@covrl/grpo';
import { createCausalLM } from '@covrl/models';
import type { CausalLM } from '@covrl/models';
import { answerLikelihoodReward, debiasedReward, repetitionPenalty } from '@covrl/rewards';
import {
  sampleResponses,
  scoreResponses,
  scoreRlprBaseline,
  scoreRlprSplice,
} from '@covrl/sampler';
import type { ExampleContexts, ResponseRollout } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import { isCorrect } from '../eval/evaluate.js';
import { responseTokens } from '../config/context-budget.js';
import type { MethodRunner, StepInput, StepOutput } from './common.js';
import { applyUpdate, mean, mergeMetrics, miniBatchRows, rewardStats } from './common.js';

const pick = <T>(xs: readonly T[], rows: readonly number[]): T[] => rows.map((r) => xs[r] as T);

/** Token budget of a full response: trace plus the answer block (checked when decoding). */
export function responseBudget(input: Pick<StepInput, 'config'>): number {
  return responseTokens(input.config);
}

/**
 * Per-token entropy of the policy at every sampled response token (FULL-SAMPLE context, logits
 * divided by τ as in sampling): `H[b, t] = −Σ_v π(v | x, o_<t) log π(v | x, o_<t)` over the whole
 * vocabulary, read from the logits at position `P_b + t − 1` (`P_b` = prompt length), shape
 * `[B, T]`, `T = max_b |o_b|`, 0 at padding. Differentiable (RLPR's entropy bonus, methods.md §6).
 *
 * One extra forward over the right-padded rows (padding never reaches earlier positions under the
 * causal mask). The `[B, L] → [B, T]` gather is a batched matmul with a one-hot selection, whose
 * gradient needs no scatter kernel; the loop it replaces is
 * `for b, t < |o_b|: out[b][t] = H[b][P_b + t − 1]`.
 */
export function responseEntropy(
  model: Pick<CausalLM, 'logits'>,
  args: {
    readonly rollouts: readonly Pick<ResponseRollout, 'exampleIndex' | 'responseIds'>[];
    readonly contexts: readonly ExampleContexts[];
    readonly temperature: number;
  },
): tf.Tensor2D {
  const { rollouts, contexts, temperature } = args;
  if (rollouts.length === 0) throw new Error('responseEntropy: rollouts must not be empty');
  if (!(temperature > 0)) throw new Error('responseEntropy: temperature must be > 0');
  const prefixes = rollouts.map((r) => {
    const c = contexts[r.exampleIndex];
    if (c === undefined) throw new Error(`responseEntropy: no context ${r.exampleIndex}`);
    return c.priorPrefix;
  });
  const seqs = rollouts.map((r, b) => [...(prefixes[b] as readonly number[]), ...r.responseIds]);
  const B = rollouts.length;
  const L = Math.max(...seqs.map((x) => x.length));
  const T = Math.max(...rollouts.map((r) => r.responseIds.length));
  if (T === 0) return tf.zeros([B, 0]);
  const select = new Float32Array(B * L * T);
  rollouts.forEach((r, b) => {
    const P = (prefixes[b] as readonly number[]).length;
    for (let t = 0; t < r.responseIds.length; t++) select[(b * L + P + t - 1) * T + t] = 1;
  });
  return tf.tidy(() => {
    const ids = seqs.map((x) => [...x, ...new Array<number>(L - x.length).fill(0)]);
    const logits = model.logits({ ids }); // [B, L, V]
    const logp = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
    const H = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)); // [B, L]
    const picked = tf.matMul(tf.expandDims(H, 1), tf.tensor3d(select, [B, L, T])); // [B, 1, T]
    return tf.reshape(picked, [B, T]) as tf.Tensor2D;
  });
}

/** The parameters of the initial model, copied to plain arrays (GRPO's frozen KL reference). */
export interface FrozenWeights {
  readonly model: CausalLM['config'];
  readonly weights: Readonly<Record<string, { shape: number[]; data: Float32Array }>>;
}

export function freezeWeights(model: CausalLM): FrozenWeights {
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, v] of model.variables()) {
    weights[name] = { shape: v.shape.slice(), data: Float32Array.from(v.dataSync()) };
  }
  return { model: model.config, weights };
}

/** Run `fn` with the frozen reference as a model, disposing it (and its weights) afterwards. */
function withReference<T>(frozen: FrozenWeights, fn: (reference: CausalLM) => T): T {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, w] of Object.entries(frozen.weights))
    tensors[name] = tf.tensor(w.data, w.shape);
  let reference: CausalLM | undefined;
  try {
    reference = createCausalLM(frozen.model, { seed: 0, weights: tensors });
    return fn(reference);
  } finally {
    reference?.dispose();
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Training reward of the verifier GRPO reference: 1 iff its extracted answer passes the family's
 * own rule verifier, the function evaluation scores with (`isCorrect`; data without a known family
 * falls back to the generic `isEquivalent` in both), and the response is well formed. The format
 * condition is the one difference from evaluation, on purpose: methods.md §6 gives malformed
 * responses R = 0 (RLPR's exactly-once tag rule, `formatValid`), while evaluation reads the answer
 * of any response that has one.
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

interface Round {
  readonly examples: readonly Example[];
  readonly contexts: readonly ExampleContexts[];
  readonly rollouts: readonly ResponseRollout[];
  readonly rewards: number[];
  readonly terms: Record<string, number[]>;
}

/** Responses of one batch of questions, with the method's rewards. */
async function sampleRound(
  input: StepInput,
  examples: readonly Example[],
  contexts: readonly ExampleContexts[],
  seed: number,
  reward: (
    rollouts: readonly ResponseRollout[],
    contexts: readonly ExampleContexts[],
    examples: readonly Example[],
  ) => { rewards: number[]; terms: Record<string, number[]> },
): Promise<Round> {
  const rollouts = await sampleResponses(input.model, {
    contexts,
    groupSize: input.config.train.groupSize,
    temperature: input.config.train.temperature,
    maxNewTokens: responseBudget(input),
    seed,
    ...(input.tokenizer.eosId !== undefined ? { eosId: input.tokenizer.eosId } : {}),
    tokenizer: input.tokenizer,
    tags: input.tags,
  });
  return { examples, contexts, rollouts, ...reward(rollouts, contexts, examples) };
}

/**
 * The update shared by RLPR and GRPO: old log-probs (and, for GRPO with `klCoef` > 0, the frozen
 * reference's), then one clipped step per mini-batch. Scoring divides the logits by the sampling
 * temperature (methods.md §3.1).
 */
function update(
  input: StepInput,
  round: { contexts: readonly ExampleContexts[]; rollouts: readonly ResponseRollout[] },
  rewards: readonly number[],
  advantages: readonly number[],
  which: 'rlpr' | 'grpo',
  reference?: FrozenWeights,
): Record<string, number> {
  const { config, model } = input;
  const G = config.train.groupSize;
  const temperature = config.train.temperature;
  const chunks = miniBatchRows(round.rollouts.length, G, config.train.miniBatches);
  const score = (policy: CausalLM, rows: readonly ResponseRollout[]) =>
    scoreResponses(policy, { rollouts: rows, contexts: round.contexts, temperature });
  // Each mini-batch's old (and reference) log-probs are freed after its update; whatever is left
  // when the step stops early (a non-finite value in a later mini-batch) is freed in the
  // `finally`, since compare goes on in this process.
  const olds: tf.Tensor2D[] = [];
  const refs: tf.Tensor2D[] = [];
  try {
    for (const rows of chunks) {
      olds.push(tf.tidy(() => score(model, pick(round.rollouts, rows)).logProbs));
    }
    const klCoef = which === 'grpo' ? config.grpo.klCoef : 0;
    if (klCoef > 0) {
      if (reference === undefined) {
        throw new Error(
          'grpo: grpo.klCoef > 0 needs the frozen initial model, which the trainer hands to the runner (attach) before step 1',
        );
      }
      withReference(reference, (ref) => {
        for (const rows of chunks) {
          refs.push(tf.tidy(() => score(ref, pick(round.rollouts, rows)).logProbs));
        }
      });
    }
    const entropyCoef = which === 'rlpr' ? config.rlpr.entropyCoef : 0;
    const traceOnly = which === 'rlpr' && config.rlpr.traceOnlyGradient;
    const parts = chunks.map((rows, k) => {
      const mb = pick(round.rollouts, rows);
      const old = olds[k] as tf.Tensor2D;
      const m = applyUpdate(input, () => {
        const s = score(model, mb);
        let mask = s.mask;
        if (traceOnly) {
          // Gradient on the reasoning tokens only (spec §7b option): positions before the end of
          // the model's own `</think>`.
          const T = s.mask.shape[1];
          const lens = mb.map((r) =>
            traceLength(r, round.contexts[r.exampleIndex] as ExampleContexts),
          );
          const keep = tf.less(
            tf.range(0, T, 1, 'int32').expandDims(0),
            tf.tensor1d(lens, 'int32').expandDims(1),
          );
          mask = tf.mul(s.mask, tf.cast(keep, 'float32'));
        }
        const batch = {
          responseLogProbs: s.logProbs,
          oldResponseLogProbs: old,
          responseMask: mask,
          advantages: tf.tensor1d(pick(advantages, rows)),
          rewards: tf.tensor1d(pick(rewards, rows)),
        };
        if (which === 'rlpr') {
          return rlprLoss(
            entropyCoef > 0
              ? {
                  ...batch,
                  entropy: responseEntropy(model, {
                    rollouts: mb,
                    contexts: round.contexts,
                    temperature,
                  }),
                }
              : batch,
            { clipLow: config.rlpr.clipLow, clipHigh: config.rlpr.clipHigh, entropyCoef },
          );
        }
        const ref = refs[k];
        return grpoLoss(ref === undefined ? batch : { ...batch, refLogProbs: ref }, {
          clipLow: config.grpo.clipLow,
          clipHigh: config.grpo.clipHigh,
          klCoef,
        });
      });
      old.dispose();
      refs[k]?.dispose();
      return m;
    });
    return mergeMetrics(parts);
  } finally {
    // Disposing a disposed tensor is a no-op: this frees only what the loop did not reach.
    tf.dispose([...olds, ...refs]);
  }
}

/** Index just after the model's own `</think>` in its response ids (the whole row if absent). */
function traceLength(r: ResponseRollout, ctx: ExampleContexts): number {
  const close = ctx.thinkClose;
  const ids = r.responseIds;
  outer: for (let i = 0; i + close.length <= ids.length; i++) {
    for (let j = 0; j < close.length; j++) if (ids[i + j] !== close[j]) continue outer;
    return i + close.length;
  }
  return ids.length;
}

function responseStats(rollouts: readonly ResponseRollout[]): Record<string, number> {
  return {
    'length/response_mean': mean(rollouts.map((r) => r.responseIds.length)),
    'rollout/truncated_fraction': mean(rollouts.map((r) => (r.truncated ? 1 : 0))),
    'rollout/malformed_fraction': mean(rollouts.map((r) => (r.formatValid ? 0 : 1))),
  };
}

function samples(
  input: StepInput,
  round: Round,
  advantages: readonly number[],
): Record<string, unknown>[] {
  return round.rollouts.slice(0, input.config.train.logSamples).map((r, i) => ({
    question: round.examples[r.exampleIndex]?.question,
    answer: round.examples[r.exampleIndex]?.answer,
    response: r.text,
    extracted: r.extractedAnswer,
    formatValid: r.formatValid,
    finishReason: r.finishReason,
    truncated: r.truncated,
    reward: round.rewards[i],
    advantage: advantages[i],
    ...Object.fromEntries(Object.entries(round.terms).map(([k, v]) => [k, v[i]])),
  }));
}

const advantagesOf = (rewards: readonly number[], G: number, method: string): number[] =>
  tf.tidy(() =>
    Array.from(
      groupAdvantages({
        rewards: tf.tensor1d(rewards as number[]),
        groupSize: G,
        method: method as 'grpo',
      }).dataSync(),
    ),
  );

/**
 * The verifier GRPO reference: R = 1 iff the extracted answer passes the family's verifier. With
 * `grpo.klCoef` > 0 the loss adds `lowVarKl` to the initial model, frozen when the trainer
 * attaches the runner (before a resumed run restores its checkpoint, so it is the base model).
 */
export function grpoRunner(): MethodRunner {
  let reference: FrozenWeights | undefined;
  return {
    name: 'grpo',
    getState: () => null,
    setState: () => undefined,
    attach({ config, model }) {
      // Plain arrays, not tensors: nothing to free if the run stops early.
      reference = config.grpo.klCoef > 0 ? freezeWeights(model) : undefined;
      return [];
    },
    async step(input: StepInput): Promise<StepOutput> {
      const G = input.config.train.groupSize;
      const round = await sampleRound(
        input,
        input.examples,
        input.contexts,
        input.seed,
        (rollouts, _c, examples) => ({ rewards: verifierRewards(rollouts, examples), terms: {} }),
      );
      const advantages = advantagesOf(round.rewards, G, input.config.grpo.advantageMethod);
      const m = update(input, round, round.rewards, advantages, 'grpo', reference);
      return {
        metrics: { ...m, ...rewardStats(round.rewards, G), ...responseStats(round.rollouts) },
        samples: samples(input, round, advantages),
      };
    },
  };
}

interface RlprState {
  filter: StdFilterState | null;
  /** Frozen r′ per example id, computed once with the initial model. */
  baseline: Record<string, number>;
}

/** RLPR: debiased mean-probability reward, format term, repetition penalty, std filter. */
export function rlprRunner(): MethodRunner {
  let state: RlprState = { filter: null, baseline: {} };

  /** r′ for the given examples, from the cache or (first sight) the current model. */
  function baselines(
    input: Pick<StepInput, 'model' | 'config'>,
    examples: readonly Example[],
    contexts: readonly ExampleContexts[],
  ): number[] {
    const missing = examples
      .map((e, i) => (state.baseline[e.id] === undefined ? i : -1))
      .filter((i) => i >= 0);
    if (missing.length > 0) {
      const values = tf.tidy(() => {
        const s = scoreRlprBaseline(input.model, { contexts: pick(contexts, missing) });
        return Array.from(
          answerLikelihoodReward({
            answerLogProbs: s.logProbs,
            answerMask: s.mask,
            form: input.config.rlpr.rewardForm as 'mean-prob',
          }).dataSync(),
        );
      });
      missing.forEach((i, k) => {
        state.baseline[(examples[i] as Example).id] = values[k] as number;
      });
    }
    return examples.map((e) => state.baseline[e.id] as number);
  }

  return {
    name: 'rlpr',
    getState: () => state,
    setState: (s) => {
      state = s as RlprState;
    },
    init(input) {
      // r′ is frozen at the initial model [S: RLPR reference code]: computed here, before step 1,
      // for the whole training pool, in batches of 64 contexts.
      if (!input.config.rlpr.debias) return;
      for (let i = 0; i < input.examples.length; i += 64) {
        baselines(input, input.examples.slice(i, i + 64), input.contexts.slice(i, i + 64));
      }
    },
    async step(input: StepInput): Promise<StepOutput> {
      const { config } = input;
      const r = config.rlpr;
      const G = config.train.groupSize;
      const reward = (
        rollouts: readonly ResponseRollout[],
        contexts: readonly ExampleContexts[],
        examples: readonly Example[],
      ): { rewards: number[]; terms: Record<string, number[]> } => {
        let splice: readonly string[] = [];
        const raw = tf.tidy(() => {
          const s = scoreRlprSplice(input.model, { rollouts, contexts });
          splice = s.splice;
          return Array.from(
            answerLikelihoodReward({
              answerLogProbs: s.logProbs,
              answerMask: s.mask,
              form: r.rewardForm as 'mean-prob',
            }).dataSync(),
          );
        });
        // Malformed, truncated or not spliced after the model's own <answer>: r = 0, format 0.
        const valid = rollouts.map(
          (x, i) => x.formatValid && !x.truncated && splice[i] === 'own-answer-open',
        );
        const rawValid = raw.map((v, i) => (valid[i] ? v : 0));
        // r′ only when debiasing: without it no baseline is scored, cached or logged (scoring it
        // here would freeze r′ at the current, not the initial, model).
        let rowBase: number[] | undefined;
        if (r.debias) {
          const base = baselines(input, examples, contexts);
          rowBase = rollouts.map((x) => base[x.exampleIndex] as number);
        }
        const debiased =
          rowBase !== undefined
            ? tf.tidy(() =>
                Array.from(
                  debiasedReward({
                    reward: tf.tensor1d(rawValid),
                    baseline: tf.tensor1d(rowBase),
                  }).dataSync(),
                ),
              )
            : rawValid;
        const format = valid.map((v) => (v ? 1 : 0));
        const repetition = rollouts.map((x) =>
          repetitionPenalty({
            text: x.text,
            windowWords: r.repetitionWindow,
            minRepeats: r.repetitionMinRepeats,
          }),
        );
        const rewards = debiased.map(
          (d, i) =>
            (1 - r.formatWeight) * d +
            r.formatWeight * (format[i] as number) +
            (repetition[i] as number),
        );
        return {
          rewards,
          terms:
            rowBase !== undefined
              ? { raw: rawValid, baseline: rowBase, debiased, format, repetition }
              : { raw: rawValid, format, repetition },
        };
      };

      // Std filter with its EMA schedule; further rounds until enough prompts survive.
      const kept: Round[] = [];
      let keptGroups = 0;
      let candidates = 0;
      let rounds = 0;
      let emaStd = 0;
      const Q = input.contexts.length;
      const allStds: number[] = [];
      const newFilter = (): StdFilterState =>
        stdFilterInit({
          beta: r.stdFilterBeta,
          decay: r.stdFilterDecay,
          emaStartStep: r.emaStartStep,
          filterStartStep: r.filterStartStep,
        });
      while (rounds < (r.stdFilter ? r.maxGenerationRounds : 1) && keptGroups < Q) {
        const batch =
          rounds === 0
            ? { examples: input.examples, contexts: input.contexts }
            : input.extraBatch(rounds);
        const round = await sampleRound(
          input,
          batch.examples,
          batch.contexts,
          input.seed + rounds * 7919,
          reward,
        );
        rounds++;
        const stds: number[] = [];
        for (let g = 0; g < round.rewards.length; g += G) {
          const grp = round.rewards.slice(g, g + G);
          const m = mean(grp);
          stds.push(Math.sqrt(grp.reduce((a, x) => a + (x - m) * (x - m), 0) / (G - 1)));
        }
        candidates += stds.length;
        allStds.push(...stds);
        let keep = stds.map(() => true);
        if (r.stdFilter) {
          // Decide per round without advancing the filter; it advances once per step below.
          keep = stdFilterKeep(state.filter ?? newFilter(), {
            step: input.step,
            groupStds: stds,
          }).keep;
        }
        const groups = keep
          .map((k, g) => (k ? g : -1))
          .filter((g) => g >= 0)
          .slice(0, Q - keptGroups);
        if (groups.length === 0) continue;
        const rows = groups.flatMap((g) => Array.from({ length: G }, (_, j) => g * G + j));
        kept.push({
          examples: round.examples,
          contexts: round.contexts,
          rollouts: pick(round.rollouts, rows).map((x) => x),
          rewards: pick(round.rewards, rows),
          terms: Object.fromEntries(
            Object.entries(round.terms).map(([k, v]) => [k, pick(v, rows)]),
          ),
        });
        keptGroups += groups.length;
        if (!r.stdFilter) break;
      }
      if (r.stdFilter) {
        // EMA update over every candidate group generated this step (filter first, then update).
        const res = stdFilterStep(state.filter ?? newFilter(), {
          step: input.step,
          groupStds: allStds,
        });
        state.filter = res.state;
        emaStd = res.emaStd ?? 0;
      }
      const parts: Record<string, number>[] = [];
      const all: {
        rewards: number[];
        terms: Record<string, number[]>;
        rollouts: ResponseRollout[];
      } = {
        rewards: [],
        terms: {},
        rollouts: [],
      };
      let firstAdv: number[] = [];
      for (const round of kept) {
        const advantages = advantagesOf(round.rewards, G, r.advantageMethod);
        if (firstAdv.length === 0) firstAdv = advantages;
        parts.push(update(input, round, round.rewards, advantages, 'rlpr'));
        all.rewards.push(...round.rewards);
        all.rollouts.push(...round.rollouts);
        for (const [k, v] of Object.entries(round.terms)) (all.terms[k] ??= []).push(...v);
      }
      const metrics: Record<string, number> = {
        ...mergeMetrics(parts),
        ...rewardStats(all.rewards, G),
        'reward/raw_prob_mean': mean(all.terms['raw'] ?? []),
        ...(r.debias
          ? {
              'reward/baseline_mean': mean(all.terms['baseline'] ?? []),
              'reward/debiased_zero_fraction': mean(
                (all.terms['debiased'] ?? []).map((d) => (d <= 0 ? 1 : 0)),
              ),
            }
          : {}),
        'reward/format_mean': mean(all.terms['format'] ?? []),
        'reward/repetition_fraction': mean(
          (all.terms['repetition'] ?? []).map((p) => (p < 0 ? 1 : 0)),
        ),
        'filter/kept_fraction': keptGroups / Math.max(1, candidates),
        'filter/ema_std': emaStd,
        'filter/generation_rounds': rounds,
        ...responseStats(all.rollouts),
      };
      const first = kept[0];
      return { metrics, samples: first === undefined ? [] : samples(input, first, firstAdv) };
    },
  };
}
