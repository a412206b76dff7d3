/**
 * The boundary between the sampler (which knows templates, contexts and rollouts) and a model
 * (which knows how to compute). `@covrl/models` implements it with TF.js decoders; tests use the
 * scripted fake from `@covrl/sampler/testing`. Everything that crosses it is plain data (token ids,
 * seeds, spans) or TF.js tensors with documented shapes.
 *
 * @packageDocumentation
 */
import type { Tensor2D } from '@tensorflow/tfjs-core';

/** Why generation of one row ended. */
export type FinishReason = 'stop' | 'eos' | 'length';

/** One batched generation request; every array has one entry per row (B rows). */
export interface GenerateRequest {
  /** Prompt token ids per row; rows may differ in length (the policy pads internally). */
  readonly prompts: readonly (readonly number[])[];
  /** Maximum number of new tokens per row (≥ 1). */
  readonly maxNewTokens: number;
  /** Sampling temperature τ > 0; logits are divided by τ. `0` means greedy (arg-max). Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens before sampling (0 or absent: off). */
  readonly topK?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability mass ≥ p (1 or absent: off). */
  readonly topP?: number;
  /**
   * Stop sequences as token ids. A row stops (finishReason `'stop'`) as soon as its generated ids
   * end with any of them; the stop ids are included in the returned ids.
   */
  readonly stopSequences?: readonly (readonly number[])[];
  /** End-of-sequence id; generating it ends the row with finishReason `'eos'` (the id is included). */
  readonly eosId?: number;
  /** One seed per row: the same (prompt, seed, request settings, weights) gives the same ids. */
  readonly seeds: readonly number[];
  /** Also return the sampling log-probs of each generated token (under temperature τ). Default false. */
  readonly returnLogProbs?: boolean;
}

/** The generated continuation of one row (prompt excluded). */
export interface GeneratedRow {
  /** Generated ids, including a terminating stop sequence or EOS id. */
  readonly ids: readonly number[];
  readonly finishReason: FinishReason;
  /** Per generated token, log π(id | prefix) at temperature τ; present iff `returnLogProbs`. */
  readonly logProbs?: readonly number[];
}

/** A span of positions of one row whose tokens are scored (teacher-forced). */
export interface TokenSpan {
  /** Absolute position (0-based) in the row's sequence of the first scored token. Must be ≥ 1. */
  readonly start: number;
  /** Number of scored tokens (≥ 0); the span must end within the row's sequence. */
  readonly length: number;
}

/**
 * A batched teacher-forced scoring request: B full id sequences (context ‖ continuation), and for
 * each named span kind (for example `trace` and `answer`) one {@link TokenSpan} per row.
 */
export interface ScoreRequest<K extends string = string> {
  /** Full token-id sequences, one per row; rows may differ in length. */
  readonly sequences: readonly (readonly number[])[];
  /** For every span kind, one span per row (same order as `sequences`). */
  readonly spans: Readonly<Record<K, readonly TokenSpan[]>>;
  /** Logits are divided by τ before the log-softmax (match the sampling temperature). Default 1. */
  readonly temperature?: number;
}

/** Per span kind: span-aligned log-probs and mask, both `[B, maxLength]` float32. */
export interface ScoredSpan {
  /**
   * `logProbs[b, t] = log π(seq_b[start_b + t] | seq_b[< start_b + t])`, read from the logits at
   * position `start_b + t − 1`; 0 at padding. Differentiable w.r.t. the policy's variables.
   */
  readonly logProbs: Tensor2D;
  /** 1 where `t < length_b`, else 0. */
  readonly mask: Tensor2D;
}

/**
 * A causal language model as the sampler sees it. Implementations must keep every tensor they
 * create inside `tf.tidy` (or dispose it) except the ones they return.
 */
export interface Policy {
  /** Vocabulary size V (ids are in `[0, V)`). */
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model accepts. */
  readonly maxContext: number;
  /** Batched sampling with a KV cache. */
  generate(request: GenerateRequest): Promise<readonly GeneratedRow[]>;
  /**
   * Teacher-forced log-probs of the given spans in one batched forward pass (differentiable when
   * called inside `tf.variableGrads`/`optimizer.minimize`). Scoring the prior and posterior
   * contexts of a batch is one call with `2B` rows.
   */
  scoreTokens<K extends string>(request: ScoreRequest<K>): Readonly<Record<K, ScoredSpan>>;
}

/** A text tokenizer as the sampler needs it. */
export interface Tokenizer {
  readonly vocabSize: number;
  /** Id that ends a sequence, if the tokenizer has one. */
  readonly eosId?: number;
  /** Encode text to ids without adding special tokens. */
  encode(text: string): number[];
  /** Decode ids to text (special tokens kept verbatim). */
  decode(ids: readonly number[]): string;
  /**
   * Encode with the character offsets `[start, end)` of every token in `text`, in UTF-16 code
   * units (JavaScript string indices), non-decreasing, each token's span covering the characters
   * it encodes (a byte token of a multi-byte character spans that whole character). Needed by
   * RLPR's offset-based answer-token selection (`scoreRlprStringSplice`). Optional: character
   * tokenizers derive it trivially; `HfTokenizer` of `@covrl/models` implements it.
   */
  encodeWithOffsets?(text: string): { ids: number[]; offsets: [number, number][] };
}
