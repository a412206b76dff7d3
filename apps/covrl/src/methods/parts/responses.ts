/**
 * The parts RLPR and the verifier GRPO reference share (methods.md §6): the model samples its
 * whole response (FULL-SAMPLE) and is scored on its own tokens; the old pass keeps the behaviour
 * log-probs (and, for GRPO's optional KL, the frozen initial model's); the loss batch; the
 * response metrics and a logged row. Scoring divides the logits by the sampling temperature
 * (methods.md §3.1).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyBatch } from '@covrl/objectives';
import { createCausalLM } from '@covrl/models';
import type { CausalLM } from '@covrl/models';
import { sampleResponses, scoreResponses } from '@covrl/sampler';
import type { ExampleContexts, ResponseRollout } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import { responseTokens } from '../../context-budget.js';
import type { StepInput } from '../../train/common.js';
import { mean, pick } from '../../train/step-metrics.js';
import type { BatchRecord, MiniBatchRl, OldPass, SampledBatch } from '../../train/method-spec.js';

/** Responses of `groupSize` rows per question, with a response budget of trace + answer block. */
export async function sampleResponseBatch(
  input: StepInput,
  examples: readonly Example[],
  contexts: readonly ExampleContexts[],
  seed: number,
): Promise<readonly ResponseRollout[]> {
  return sampleResponses(input.model, {
    contexts,
    groupSize: input.config.train.groupSize,
    temperature: input.config.train.temperature,
    maxNewTokens: responseTokens(input.config),
    seed,
    ...(input.tokenizer.eosId !== undefined ? { eosId: input.tokenizer.eosId } : {}),
    tokenizer: input.tokenizer,
    tags: input.tags,
  });
}

/** Score `rows` of `batch` under `policy` (the current model, or a frozen reference). */
export const scoreResponseRows = (
  policy: CausalLM,
  input: StepInput,
  batch: SampledBatch<ResponseRollout>,
  rows: readonly number[],
) =>
  scoreResponses(policy, {
    rollouts: pick(batch.rollouts, rows),
    contexts: batch.contexts,
    temperature: input.config.train.temperature,
  });

/**
 * The old pass of each mini-batch: detached behaviour log-probs `old` `[B, T]`, and `ref` from
 * the frozen initial model when `reference` is given (GRPO with `grpo.klCoef` > 0).
 */
export function scoreResponsesOld(
  input: StepInput,
  batch: SampledBatch<ResponseRollout>,
  chunks: readonly number[][],
  reference?: FrozenWeights,
): OldPass[] {
  const olds: tf.Tensor[] = [];
  const refs: tf.Tensor[] = [];
  try {
    for (const rows of chunks) {
      olds.push(tf.tidy(() => scoreResponseRows(input.model, input, batch, rows).logProbs));
    }
    if (reference !== undefined) {
      withReference(reference, (ref) => {
        for (const rows of chunks) {
          refs.push(tf.tidy(() => scoreResponseRows(ref, input, batch, rows).logProbs));
        }
      });
    }
  } catch (error) {
    tf.dispose([...olds, ...refs]);
    throw error;
  }
  return olds.map((old, k) => ({
    tensors: refs[k] === undefined ? { old } : { old, ref: refs[k] as tf.Tensor },
    terms: {},
  }));
}

/** The policy-loss batch of one mini-batch: current and old log-probs, mask, A and R. */
export function policyBatch(
  current: { readonly logProbs: tf.Tensor2D; readonly mask: tf.Tensor2D },
  old: OldPass,
  rl: MiniBatchRl,
  mask: tf.Tensor2D = current.mask,
): PolicyBatch & { rewards: tf.Tensor1D } {
  return {
    responseLogProbs: current.logProbs,
    oldResponseLogProbs: old.tensors['old'] as tf.Tensor2D,
    responseMask: mask,
    advantages: tf.tensor1d(rl.advantages as number[]),
    rewards: tf.tensor1d(rl.rewards as number[]),
  };
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

/** 1 where a response is well formed and not truncated. */
export const validResponse = (r: ResponseRollout): number =>
  r.formatValid && !r.truncated ? 1 : 0;

/** Response length and format metrics. */
export function responseMetrics(
  records: readonly BatchRecord<ResponseRollout>[],
): Record<string, number> {
  const rollouts = records.flatMap((r) => r.batch.rollouts);
  return {
    'length/response_mean': mean(rollouts.map((r) => r.responseIds.length)),
    'rollout/truncated_fraction': mean(rollouts.map((r) => (r.truncated ? 1 : 0))),
    'rollout/malformed_fraction': mean(rollouts.map((r) => (r.formatValid ? 0 : 1))),
  };
}

/** A logged response row: the text, what was extracted, the reward and its terms. */
export function responseSampleRow(
  record: BatchRecord<ResponseRollout>,
  row: number,
): Record<string, unknown> {
  const r = record.batch.rollouts[row] as ResponseRollout;
  const ex = record.batch.examples[r.exampleIndex];
  return {
    question: ex?.question,
    answer: ex?.answer,
    response: r.text,
    extracted: r.extractedAnswer,
    formatValid: r.formatValid,
    finishReason: r.finishReason,
    truncated: r.truncated,
    ...Object.fromEntries(Object.entries(record.batch.terms).map(([k, v]) => [k, v[row]])),
    reward: record.rewards[row],
    advantage: record.advantages[row],
  };
}
