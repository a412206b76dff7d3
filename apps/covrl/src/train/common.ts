/**
 * What every method's step shares: the model bundle, the optimizer update with gradient clipping,
 * per-step seeds, and metric bookkeeping. The methods themselves (`covrl.ts`, `verifree.ts`,
 * `response-methods.ts`) compose the packages' functions and nothing else.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, AdamW } from '@covrl/models';
import { clipByGlobalNorm } from '@covrl/models';
import { answerLikelihoodReward } from '@covrl/rewards';
import type { ExampleContexts, Tags, Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';
import { assertFinite, NonFiniteError } from '../run/log.js';

/** Everything a method step reads. Plain data plus the model; nothing calls back into the loop. */
export interface StepInput {
  readonly step: number;
  readonly config: Config;
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** The step's questions (length `train.questionsPerStep`). */
  readonly examples: readonly Example[];
  /** Token pieces of each example, same order as `examples`. */
  readonly contexts: readonly ExampleContexts[];
  /** Seed of this step's sampling: a pure function of (run seed, step). */
  readonly seed: number;
  readonly optimizer: AdamW;
  readonly lr: number;
  /**
   * Further questions for generation round `round` ≥ 1 of this step (RLPR's std filter), a pure
   * function of (seed, step, round).
   */
  readonly extraBatch: (round: number) => {
    examples: readonly Example[];
    contexts: readonly ExampleContexts[];
  };
}

/** What a method sees once before the first step of a fresh run. */
export interface InitInput {
  readonly config: Config;
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** The whole RL training pool with its contexts. */
  readonly examples: readonly Example[];
  readonly contexts: readonly ExampleContexts[];
}

export interface StepOutput {
  readonly metrics: Record<string, number>;
  /** A few sampled completions with their reward terms, for `samples.jsonl`. */
  readonly samples: Record<string, unknown>[];
}

/** What a method sees once per process, on fresh and resumed runs alike. */
export interface AttachInput {
  readonly config: Config;
  /** The model as loaded from the base, before a resumed run restores its checkpoint. */
  readonly model: CausalLM;
}

/** A training method: one step in, metrics out; its own state is plain JSON for checkpoints. */
export interface MethodRunner {
  readonly name: string;
  /**
   * Once per process before the first step, fresh or resumed, before any checkpoint is restored:
   * the place to keep a copy of the initial model (GRPO's frozen KL reference) and to check the
   * settings. Returns warnings, which the trainer writes to the run log and to stderr.
   */
  attach?(input: AttachInput): readonly string[];
  /** Once before the first step of a fresh run (e.g. RLPR's frozen baseline r′). */
  init?(input: InitInput): void;
  step(input: StepInput): Promise<StepOutput>;
  getState(): unknown;
  setState(state: unknown): void;
}

/** 32-bit mix of integers (splitmix32 finaliser): per-step and per-purpose seeds. */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * One optimizer update: gradients of `lossFn` with respect to every model variable, global-norm
 * clipping to `gradClip`, an AdamW step at `lr`. Returns the loss function's metrics plus
 * `grad/norm` (before clipping). Every intermediate tensor is disposed.
 *
 * The non-finite guard runs here, BEFORE the optimizer step: a NaN or Inf in any loss term or
 * reward of the loss's metrics, in the scalar loss itself (`loss`), or in the gradient norm
 * (`grad/norm`) throws {@link NonFiniteError} naming the term and `input.step`, and leaves the
 * weights and the optimizer state as this update found them: the bad update never reaches the
 * model. The guard is per update, not per step: with `train.miniBatches` > 1 the earlier
 * mini-batches of the failing step have already updated the in-memory weights and AdamW moments.
 * Those reach no checkpoint and no export only because the trainer aborts the run on the error
 * without saving; the newest checkpoint stays the one from before the failing step.
 */
export function applyUpdate(
  input: Pick<StepInput, 'model' | 'optimizer' | 'lr' | 'config'> & { readonly step?: number },
  lossFn: () => { loss: tf.Scalar; metrics: Record<string, number> },
): Record<string, number> {
  let metrics: Record<string, number> = {};
  const variables = [...input.model.variables().values()];
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    metrics = out.metrics;
    return out.loss;
  }, variables);
  const lossValue = value.dataSync()[0] ?? Number.NaN;
  value.dispose();
  const step = input.step ?? 0;
  const named: Record<string, tf.Tensor> = {};
  for (const [name, v] of input.model.variables()) {
    const g = grads[v.name];
    if (g !== undefined) named[name] = g;
  }
  let clipped: Record<string, tf.Tensor> = {};
  let norm = Number.NaN;
  try {
    assertFinite(metrics, step, ['loss/', 'reward/']);
    if (!Number.isFinite(lossValue)) throw new NonFiniteError('loss', step, lossValue);
    ({ grads: clipped, norm } = clipByGlobalNorm(named, input.config.train.gradClip));
    if (!Number.isFinite(norm)) throw new NonFiniteError('grad/norm', step, norm);
    input.optimizer.step(clipped, input.model.variables(), { lr: input.lr });
  } finally {
    tf.dispose(Object.values(grads));
    tf.dispose(Object.values(clipped));
  }
  return { ...metrics, 'grad/norm': norm };
}

/** Average per-mini-batch metrics: mean, except `…max` keys take the max and `…min` the min. */
export function mergeMetrics(parts: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = new Set(parts.flatMap((p) => Object.keys(p)));
  for (const key of keys) {
    const values = parts.map((p) => p[key]).filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    if (/max(_abs_log)?$/.test(key)) out[key] = Math.max(...values);
    else if (/min$/.test(key)) out[key] = Math.min(...values);
    else out[key] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return out;
}

/** Split `n` rows made of groups of `groupSize` into `parts` chunks of whole groups. */
export function miniBatchRows(n: number, groupSize: number, parts: number): number[][] {
  const groups = n / groupSize;
  const k = Math.max(1, Math.min(parts, groups));
  const out: number[][] = [];
  for (let i = 0; i < k; i++) {
    const g0 = Math.floor((i * groups) / k);
    const g1 = Math.floor(((i + 1) * groups) / k);
    const rows: number[] = [];
    for (let r = g0 * groupSize; r < g1 * groupSize; r++) rows.push(r);
    out.push(rows);
  }
  return out;
}

/** Mean of a number array (0 for an empty one). */
export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per-group statistics of rewards used by every method's metrics. */
export function rewardStats(rewards: readonly number[], groupSize: number): Record<string, number> {
  const m = mean(rewards);
  const variance = mean(rewards.map((r) => (r - m) * (r - m)));
  let zeroGroups = 0;
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    if (Math.max(...group) - Math.min(...group) < 1e-12) zeroGroups++;
  }
  return {
    'reward/mean': m,
    'reward/std': Math.sqrt(variance),
    'advantage/zero_group_fraction': zeroGroups / Math.max(1, rewards.length / groupSize),
  };
}

/** A reward form of `answerLikelihoodReward`. */
export type AnswerRewardForm = Parameters<typeof answerLikelihoodReward>[0]['form'];

/**
 * The answer-likelihood reward of `form` for a scored answer span (`logProbs`, `mask` `[B, A]`)
 * and, for the logs, its summed log-likelihood log p(y | x, z), both `[B]`. When `form` is
 * already `'log-prob-sum'` the two are the same tensor (one reduction, not two).
 */
export function answerRewardAndLogProb(
  answer: { readonly logProbs: tf.Tensor; readonly mask: tf.Tensor },
  form: AnswerRewardForm,
): { reward: tf.Tensor1D; logProb: tf.Tensor1D } {
  const of = (f: AnswerRewardForm): tf.Tensor1D =>
    answerLikelihoodReward({ answerLogProbs: answer.logProbs, answerMask: answer.mask, form: f });
  const reward = of(form);
  return { reward, logProb: form === 'log-prob-sum' ? reward : of('log-prob-sum') };
}
