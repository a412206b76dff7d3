/**
 * The sampler's own cost: one CoVRL rollout step (hybrid sampling with `sampleTraces`, then the
 * stacked prior/posterior scoring of `scoreTraces`) timed whole and split into the time spent
 * inside the policy's `generate` and `scoreTokens` versus everything else (context assembly,
 * stop detection, well-formedness checks, span bookkeeping, splitting the stacked result).
 */
import * as tf from '@tensorflow/tfjs-core';
import { CharTokenizer, createCausalLM, defaultModelConfig } from '@covrl/models';
import {
  DEFAULT_TAGS,
  assignSources,
  buildContexts,
  sampleTraces,
  scoreTraces,
} from '@covrl/sampler';
import type { Policy } from '@covrl/sampler';
import { generateSuite } from '@covrl/data';

export interface SamplerOverheadResult {
  readonly questions: number;
  readonly groupSize: number;
  readonly stepSeconds: number;
  readonly policySeconds: number;
  /** (step − time inside the policy) / step. */
  readonly overheadFraction: number;
}

/** Time `repeats` rollout steps of `questions × groupSize` rows on the current backend. */
export async function runSamplerOverheadBench({
  questions = 8,
  groupSize = 8,
  repeats = 3,
}: {
  questions?: number;
  groupSize?: number;
  repeats?: number;
} = {}): Promise<SamplerOverheadResult> {
  let alphabet = '\n';
  for (let c = 32; c < 127; c++) alphabet += String.fromCharCode(c);
  const tags = DEFAULT_TAGS;
  const tokenizer = CharTokenizer.fromAlphabet(alphabet, {
    atomicTokens: [tags.thinkOpen, tags.thinkClose, tags.answerOpen, tags.answerClose],
  });
  const model = createCausalLM(
    defaultModelConfig('gpt2', {
      vocabSize: tokenizer.vocabSize,
      dModel: 64,
      nLayers: 2,
      nHeads: 4,
      dFf: 256,
      maxContext: 192,
    }),
    { seed: 0 },
  );
  let inPolicy = 0;
  const timed: Policy = {
    vocabSize: model.vocabSize,
    maxContext: model.maxContext,
    async generate(request) {
      const t = performance.now();
      const out = await model.generate(request);
      inPolicy += performance.now() - t;
      return out;
    },
    scoreTokens(request) {
      const t = performance.now();
      const out = model.scoreTokens(request);
      // Force the forward to finish inside the timed region (kernels may run lazily).
      for (const s of Object.values(out) as { logProbs: tf.Tensor }[]) s.logProbs.dataSync();
      inPolicy += performance.now() - t;
      return out;
    },
  };
  const examples = generateSuite({
    families: ['addition'],
    perFamily: questions,
    seed: 5,
    difficulty: 2,
  });
  const contexts = examples.map((e) =>
    buildContexts({ tokenizer, tags, question: e.question, answer: e.answer }),
  );
  const step = async (seed: number): Promise<void> => {
    const sources = assignSources({
      numGroups: questions,
      groupSize,
      alpha: 0.5,
      split: 'deterministic',
      seed,
    });
    const rollouts = await sampleTraces(timed, {
      contexts,
      groupSize,
      sampledFromPrior: sources.sampledFromPrior,
      temperature: 1,
      maxTraceTokens: 64,
      seed,
      tokenizer,
      tags,
    });
    tf.tidy(() => {
      const s = scoreTraces(timed, {
        rollouts,
        contexts,
        includePosterior: true,
        answerSpan: 'answer',
      });
      s.answer.logProbs.dataSync();
    });
  };
  await step(0);
  inPolicy = 0;
  const t0 = performance.now();
  for (let i = 1; i <= repeats; i++) await step(i);
  const total = (performance.now() - t0) / 1000;
  model.dispose();
  const policySeconds = inPolicy / 1000;
  return {
    questions,
    groupSize,
    stepSeconds: total / repeats,
    policySeconds: policySeconds / repeats,
    overheadFraction: (total - policySeconds) / total,
  };
}
