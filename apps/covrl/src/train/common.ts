/**
 * The contract between the trainer and a method's runner: what a step reads (`StepInput`), what
 * it returns (`StepOutput`), the runner's lifecycle (`MethodRunner`), and per-step seeds. The
 * runner of every method is made by the one pipeline (`pipeline.ts`) from a method spec
 * (`../methods/`).
 */
import type { CausalLM, AdamW } from '@covrl/models';
import type { ExampleContexts, Tags, Tokenizer } from '@covrl/sampler';
import type { Example } from '@covrl/data';
import type { Config } from '../config/schema.js';

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
  /**
   * Wall-clock seconds per phase and throughput (`time/…`, `throughput/…`): logged beside the
   * metrics, never inside them, so two runs of the same config log identical metrics.
   */
  readonly timing?: Record<string, number>;
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
