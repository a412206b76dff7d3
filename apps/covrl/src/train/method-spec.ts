/**
 * What a training method is: a small declarative {@link MethodSpec} that the one pipeline
 * (`train/pipeline.ts`) runs. The pipeline owns the order of a step (sample → score with the
 * old policy → reward → invalid-row rule → advantages → mini-batch updates → metrics → sample
 * rows); a spec only says what differs: what it samples and from which template, which passes
 * it scores, its reward, its loss, its extra metrics. Phases hand plain data forward (rollouts,
 * per-row numbers, detached tensors); nothing calls back into the loop.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdvantageMethodName } from '@covrl/grpo';
import type { CausalLM } from '@covrl/models';
import type { LossResult } from '@covrl/objectives';
import type { RewardForm } from '@covrl/rewards';
import type { Example } from '@covrl/data';
import type { ExampleContexts } from '@covrl/sampler';
import type { Cited, Config } from '../config/schema.js';
import type { InitInput, MethodRunner, StepInput } from './common.js';

/** RLPR's std filter as generation rounds of the pipeline (see `generation-rounds.ts`). */
export interface GenerationRounds {
  readonly enabled: boolean;
  /** Keep a group iff its reward std ≥ beta·EMA (`stdFilterInit` of `@covrl/grpo`). */
  readonly beta: number;
  readonly decay: number;
  readonly emaStartStep: number;
  readonly filterStartStep: number;
  readonly maxRounds: number;
  /**
   * `'per-round'`: each kept round is its own batch (old scores, advantages and updates round
   * by round, so a later round's old log-probs come after the earlier rounds' updates).
   * `'accumulated'`: every survivor in one batch, scored and updated once, by the policy that
   * sampled it (the reference's behaviour).
   */
  readonly update: 'per-round' | 'accumulated';
}

/** The per-row flags every rollout carries, whatever the method samples. */
export interface RowFlags {
  readonly exampleIndex: number;
  readonly truncated: boolean;
}

/** One batch of rollouts of one set of questions (RLPR's std filter samples several). */
export interface SampledBatch<R extends RowFlags> {
  readonly examples: readonly Example[];
  readonly contexts: readonly ExampleContexts[];
  readonly rollouts: readonly R[];
  /** Per-row reward terms known at sampling time (RLPR's spliced reward, GRPO's verifier). */
  readonly terms: Readonly<Record<string, readonly number[]>>;
}

/** The questions of one generation round and its sampling seed. */
export interface SampleRound {
  readonly examples: readonly Example[];
  readonly contexts: readonly ExampleContexts[];
  readonly seed: number;
}

/** What the behaviour policy's no-grad pass over one mini-batch hands to its update. */
export interface OldPass {
  /** Detached tensors the loss reads (old log-probs, reference log-probs); freed after it. */
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
  /** Per-row numbers of the pass's rows, in row order (e.g. the reward read off the same pass). */
  readonly terms: Readonly<Record<string, readonly number[]>>;
}

/** The reward of every row of a batch before advantages (methods.md §3.2). */
export interface RowRewards {
  /** The reward in the method's own unit, before the invalid-row rule. */
  readonly raw: readonly number[];
  /** 1 where the row counts (well formed, not truncated, …), 0 where it does not. */
  readonly valid: readonly number[];
  /**
   * The invalid-row rule of `@covrl/rewards` (`applyInvalidRowRule`): invalid rows get the
   * group's worst valid reward minus `margin` (0 for probability forms). Absent: `raw` is final.
   */
  readonly invalidRule?: { readonly form: RewardForm; readonly margin: number };
}

/** Everything the pipeline knows about one batch once its updates are done. */
export interface BatchRecord<R extends RowFlags> {
  readonly batch: SampledBatch<R>;
  /** Sampling-time terms and every old pass's terms, merged per row. */
  readonly terms: Readonly<Record<string, readonly number[]>>;
  readonly raw: readonly number[];
  readonly valid: readonly number[];
  /** After the invalid-row rule. */
  readonly rewards: readonly number[];
  readonly advantages: readonly number[];
}

/** The rewards and advantages of the rows of one mini-batch, for its loss. */
export interface MiniBatchRl {
  readonly rewards: readonly number[];
  readonly advantages: readonly number[];
  /** Index of the mini-batch within its batch (0 = the first update of the batch). */
  readonly index: number;
}

/**
 * A method. `R` is its rollout record; `S` its own state across steps (plain JSON, checkpointed;
 * `null` when it has none).
 */
export interface MethodSpec<R extends RowFlags, S = null> {
  readonly name: string;
  /** One line for `covrl --help` and the report. */
  readonly summary: string;
  /** Its preset over the defaults, each value with the source that justifies it. */
  readonly preset: Readonly<Record<string, Cited>>;
  /** The unit of `reward/mean` in progress lines and the report ('log-prob', 'probability', …). */
  rewardUnit(config: Config): string;
  /**
   * One update per rollout batch whatever `train.miniBatches` says (VeriFree's strictly
   * on-policy update); otherwise the batch is split into `train.miniBatches` whole-group chunks.
   */
  onPolicy?(config: Config): boolean;
  /** A fresh per-run state (the runner keeps it across steps). */
  initialState(): S;
  /** What a checkpoint keeps of the state (plain JSON); default nothing (`null`). */
  persistState?(state: S): unknown;
  /** The state a resumed run continues with, from what {@link persistState} saved. */
  restoreState?(saved: unknown, state: S): S;
  /** Once per process, before a checkpoint is restored: settings checks → warnings. */
  attach?(input: { readonly config: Config; readonly model: CausalLM }, state: S): string[];
  /** Once before the first step of a fresh run (RLPR's frozen r′). */
  init?(input: InitInput, state: S): void;
  /**
   * RLPR's std filter as an option of the pipeline's sampling phase: further generation rounds
   * until enough groups have a reward spread (needs the `reward` term at sampling time).
   */
  generationRounds?(config: Config): GenerationRounds;
  /** 1. Sample one round of questions (`groupSize` rows each), with any sampling-time terms. */
  sample(input: StepInput, round: SampleRound, state: S): Promise<SampledBatch<R>>;
  /** 2. The behaviour policy's no-grad passes, one per mini-batch (`chunks` hold row indices). */
  scoreOld(
    input: StepInput,
    batch: SampledBatch<R>,
    chunks: readonly number[][],
    state: S,
  ): OldPass[];
  /** 3. Rewards of every row from the merged terms (sampling-time and old-pass). */
  reward(input: StepInput, batch: SampledBatch<R>, terms: TermsOf): RowRewards;
  /** 4. The group advantage of the `@covrl/grpo` registry. */
  advantageMethod(config: Config): AdvantageMethodName;
  /** 5. The loss of one mini-batch, under the gradient tape (re-score with the current policy). */
  loss(
    input: StepInput,
    batch: SampledBatch<R>,
    rows: readonly number[],
    old: OldPass,
    rl: MiniBatchRl,
  ): LossResult;
  /** 6. The method's own step metrics (the pipeline adds the standard ones). */
  metrics(input: StepInput, records: readonly BatchRecord<R>[], state: S): Record<string, number>;
  /** 7. One logged row: its text and every reward term (`train.logSamples` rows are logged). */
  sampleRow(input: StepInput, record: BatchRecord<R>, row: number): Record<string, unknown>;
  /** Which rows are logged (default: the first `train.logSamples`). */
  sampleRowsOf?(input: StepInput, record: BatchRecord<R>): number[];
  /** Tokens sampled for a row (compute accounting). */
  sampledTokens(rollout: R): number;
}

/** Per-row terms by name. */
export type TermsOf = Readonly<Record<string, readonly number[]>>;

/** A spec with its types hidden, as the registry holds it. */
export interface RegisteredMethod {
  readonly name: string;
  readonly summary: string;
  readonly preset: Readonly<Record<string, Cited>>;
  rewardUnit(config: Config): string;
  /** A fresh runner of this method for one run (its state starts at `initialState()`). */
  runner(): MethodRunner;
}
