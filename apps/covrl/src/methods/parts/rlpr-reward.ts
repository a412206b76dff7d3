/**
 * RLPR's reward (methods.md §6; RLPR reference code): the mean token probability of the reference
 * answer spliced after the model's own `<answer>`, debiased by r′ — the same probability with no
 * reasoning, scored once with the initial model and frozen — plus a format term and a repetition
 * penalty.
 */
import * as tf from '@tensorflow/tfjs-core';
import { answerLikelihoodReward, debiasedReward, repetitionPenalty } from '@covrl/rewards';
import { scoreRlprBaseline, scoreRlprSplice, scoreRlprStringSplice } from '@covrl/sampler';
import type { SpliceMode } from '@covrl/sampler';
import type { ExampleContexts, ResponseRollout } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { StepInput } from '../../train/common.js';
import { pick } from '../../train/step-metrics.js';

/** Frozen r′ per example id, computed with the initial model (checkpointed). */
export interface RlprState {
  baseline: Record<string, number>;
}

/** r′ for `examples`: from the cache, or (first sight) scored with the current model. */
export function baselines(
  input: Pick<StepInput, 'model' | 'config'>,
  state: RlprState,
  examples: readonly Example[],
  contexts: readonly ExampleContexts[],
): number[] {
  const missing = examples.flatMap((e, i) => (state.baseline[e.id] === undefined ? [i] : []));
  if (missing.length > 0) {
    const values = tf.tidy(() => {
      const s = scoreRlprBaseline(input.model, { contexts: pick(contexts, missing) });
      const form = input.config.rlpr.rewardForm;
      return Array.from(
        answerLikelihoodReward({ answerLogProbs: s.logProbs, answerMask: s.mask, form }).dataSync(),
      );
    });
    missing.forEach((i, k) => {
      state.baseline[(examples[i] as Example).id] = values[k] as number;
    });
  }
  return examples.map((e) => state.baseline[e.id] as number);
}

/** The splices after the model's own `<answer>`: the rows whose reward counts. */
const OWN_ANSWER_OPEN: ReadonlySet<SpliceMode> = new Set([
  'own-answer-open',
  'own-answer-open-split',
]);

/** Per-row reward terms of one round (methods.md §6 reward). */
export function rewardTerms(
  input: StepInput,
  state: RlprState,
  round: { examples: readonly Example[]; contexts: readonly ExampleContexts[] },
  rollouts: readonly ResponseRollout[],
): Record<string, number[]> {
  const r = input.config.rlpr;
  let splice: readonly SpliceMode[] = [];
  const raw = tf.tidy(() => {
    // 'token' splices the reference ids after the sampled ids (methods.md §2); 'string' the
    // reference text into the decoded response, re-tokenized, answer tokens found by offsets.
    const args = {
      rollouts,
      contexts: round.contexts,
      tokenizer: input.tokenizer,
      tags: input.tags,
    };
    const s =
      r.splice === 'string'
        ? scoreRlprStringSplice(input.model, args)
        : scoreRlprSplice(input.model, args);
    splice = s.splice;
    const lp = { answerLogProbs: s.logProbs, answerMask: s.mask, form: r.rewardForm };
    return Array.from(answerLikelihoodReward(lp).dataSync());
  });
  // Malformed, truncated or not spliced after the model's own <answer> (whole, or its last
  // token merged with the answer by a BPE): r = 0, format 0.
  const format = rollouts.map((x, i) =>
    x.formatValid && !x.truncated && OWN_ANSWER_OPEN.has(splice[i] as SpliceMode) ? 1 : 0,
  );
  const rawValid = raw.map((v, i) => (format[i] === 1 ? v : 0));
  const repetition = rollouts.map((x) =>
    repetitionPenalty({
      text: x.text,
      windowWords: r.repetitionWindow,
      minRepeats: r.repetitionMinRepeats,
    }),
  );
  const total = (d: readonly number[]) =>
    d.map(
      (v, i) =>
        (1 - r.formatWeight) * v +
        r.formatWeight * (format[i] as number) +
        (repetition[i] as number),
    );
  // r′ only when debiasing: without it no baseline is scored, cached or logged (scoring it here
  // would freeze r′ at the current, not the initial, model).
  if (!r.debias) return { raw: rawValid, format, repetition, reward: total(rawValid) };
  const base = baselines(input, state, round.examples, round.contexts);
  const baseline = rollouts.map((x) => base[x.exampleIndex] as number);
  const debiased = tf.tidy(() =>
    Array.from(
      debiasedReward({ reward: tf.tensor1d(rawValid), baseline: tf.tensor1d(baseline) }).dataSync(),
    ),
  );
  return { raw: rawValid, baseline, debiased, format, repetition, reward: total(debiased) };
}
