/**
 * How many bytes a model needs on the TF.js backend, and a check that refuses, with the numbers,
 * before anything is allocated when it would not fit the wasm heap (4 GiB: wasm32 addresses).
 *
 * The activation coefficients are measured, not derived: peak `tf.memory()` bytes of AdamW
 * training steps (`tf.profile().peakBytes`) on the wasm backend (tfjs 4.22) for llama-family
 * configs varied one size at a time (D 256/512, F 688/1376, 2/4 layers, 256/512 tokens, V 4 096
 * and 16 384; `packages/models/README.md`, "Know the limits"). They include what the TF.js tape
 * keeps alive (every op's saved inputs; on wasm a saved tensor is a copy) and are upper bounds
 * for gpt2, whose blocks are smaller.
 *
 * @packageDocumentation
 */
import { headDimOf } from './config.js';
import type { ModelConfig } from './config.js';
import { parameterShapes } from './init.js';
import type { LoraConfig } from './lora.js';
import { selectLoraModules, validateLoraConfig } from './lora.js';
import { LOGITS_CHUNK_ELEMENTS } from './chunked-logits.js';

/** The wasm backend's heap limit: 4 GiB (32-bit addresses). */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

/**
 * Float32 values kept per token and per block in a differentiable forward pass without
 * recomputation: `ACT_PER_D·D + ACT_PER_F·F + ACT_PER_HT·H·T` (fitted, see the module comment).
 */
export const ACT_PER_D = 124;
/** See {@link ACT_PER_D}. */
export const ACT_PER_F = 15;
/** See {@link ACT_PER_D}: attention probabilities and their copies, per head and key. */
export const ACT_PER_HT = 6;
/** Float32 values per token, per adapted projection and per unit of D (fitted, LoRA). */
export const LORA_ACT_PER_D = 8;
/** Copies of a `[rows, V]` logits block alive at once in scoring and its gradient. */
export const LOGITS_COPIES = 6;

/** What {@link estimateMemory} estimates. */
export interface MemoryRequest {
  /**
   * `'inference'`: weights and one sampling or scoring pass; `'full'`: AdamW on every
   * parameter; `'lora'`: AdamW on adapters only (the base frozen).
   */
  readonly mode: 'inference' | 'full' | 'lora';
  /** Sequences per step (training, scoring) or rows sampled at once. */
  readonly batch: number;
  /** Tokens per sequence. */
  readonly length: number;
  /** Required with `mode: 'lora'`. */
  readonly lora?: LoraConfig;
  /** Activation recomputation (`createCausalLM({ activationRecomputation })`). Default false. */
  readonly recompute?: boolean;
  /**
   * Whether the backend has a scatter-add embedding gradient (`UnsortedSegmentSum`); without
   * it a vocabulary above 512 rows costs a one-hot `[B·T, V]` in the backward pass. Default
   * true (the covrl wasm engine registers one).
   */
  readonly scatterEmbeddingGradient?: boolean;
  /** Largest logits block (`logitsChunkElements`), default `LOGITS_CHUNK_ELEMENTS`. */
  readonly logitsChunkElements?: number;
}

/** Bytes by purpose; `total` is their sum. */
export interface MemoryEstimate {
  readonly parameters: number;
  readonly trainableParameters: number;
  readonly weightBytes: number;
  readonly gradientBytes: number;
  /** AdamW's two moments of every trainable parameter. */
  readonly optimizerBytes: number;
  /** Copies of weights the backward pass keeps (wasm copies the tensors an op saves). */
  readonly savedWeightBytes: number;
  readonly activationBytes: number;
  readonly logitsBytes: number;
  readonly embeddingGradientBytes: number;
  readonly totalBytes: number;
}

const GiB = 1024 ** 3;
const fmt = (bytes: number): string => `${(bytes / GiB).toFixed(2)} GiB`;

/**
 * Estimate the peak bytes of one step of `request` for `config` (float32 everywhere):
 *
 * - weights `4·P`; full training adds gradients `4·P`, AdamW moments `8·P` and the weight copies
 *   the tape saves `4·P_matmul`; LoRA adds the same for the adapter parameters only (the frozen
 *   base keeps its saved copies: `4·P_matmul`);
 * - activations, `N = batch·length` tokens: without recomputation
 *   `4·N·nLayers·(124·D + 15·F + 6·H·T)`; with it `4·N·(2·D·nLayers + 124·D + 15·F + 6·H·T)`
 *   (block inputs, plus one block recomputed at a time); LoRA adds `4·N·(2·r + 8·D)` per
 *   adapted projection (of one block with recomputation);
 * - logits: `LOGITS_COPIES = 6` copies of `min(N·V, logitsChunkElements)` floats, plus the
 *   head-gradient accumulators `3·4·V·D` in full training (2 unchunked), or the transposed tied head `4·V·D`
 *   with LoRA;
 * - embedding gradient without a scatter kernel: a one-hot `[N, V]` (int32, and its float cast).
 * Inference (`mode: 'inference'`) counts weights, one forward's activations of one block and
 * the logits of `batch` rows (sampling) or `N` rows (scoring), whichever is larger.
 *
 * @throws Error naming the request field that is not a positive integer, or a missing `lora`.
 */
export function estimateMemory(config: ModelConfig, request: MemoryRequest): MemoryEstimate {
  const { mode, batch, length } = request;
  for (const [k, v] of [
    ['batch', batch],
    ['length', length],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`estimateMemory: request.${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (mode !== 'inference' && mode !== 'full' && mode !== 'lora') {
    throw new Error(
      `estimateMemory: request.mode must be 'inference', 'full' or 'lora', got '${String(mode)}'`,
    );
  }
  const shapes = parameterShapes(config);
  let P = 0;
  let matmulP = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    P += n;
    if (shape.length === 2 && name.startsWith('layers.')) matmulP += n;
  }
  const { dModel: D, dFf: F, nHeads: H, nLayers: nL, vocabSize: V } = config;
  const N = batch * length;
  const perBlock = ACT_PER_D * D + ACT_PER_F * F + ACT_PER_HT * H * length;
  const chunk = request.logitsChunkElements ?? LOGITS_CHUNK_ELEMENTS;
  const headCopy = config.tieEmbeddings ? 4 * V * D : 0;
  if (mode === 'inference') {
    const logitsRows = Math.max(batch, N);
    const logitsBytes = LOGITS_COPIES * 4 * Math.min(logitsRows * V, chunk) + headCopy;
    const activationBytes = 4 * N * perBlock + 4 * N * 2 * D * nL; // one block + the KV cache
    const weightBytes = 4 * P;
    return {
      parameters: P,
      trainableParameters: 0,
      weightBytes,
      gradientBytes: 0,
      optimizerBytes: 0,
      savedWeightBytes: 0,
      activationBytes,
      logitsBytes,
      embeddingGradientBytes: 0,
      totalBytes: weightBytes + activationBytes + logitsBytes,
    };
  }
  let trainable = P;
  let loraActivations = 0;
  if (mode === 'lora') {
    if (request.lora === undefined) {
      throw new Error("estimateMemory: request.lora is required with mode 'lora'");
    }
    const lora = validateLoraConfig(request.lora);
    const modules = selectLoraModules(config, lora.targetModules);
    trainable = modules.reduce(
      (s, m) => s + lora.r * (m.inDim + m.outputs.reduce((w, o) => w + o.width, 0)),
      0,
    );
    // Per adapted projection and token: the [N, r] products and about 8·D more floats (the saved
    // inputs of x·A and the adapter branch's intermediates; fitted like the block coefficients).
    loraActivations = 4 * N * modules.length * (2 * lora.r + LORA_ACT_PER_D * D);
  }
  const recompute = request.recompute ?? false;
  const activationBytes =
    (recompute ? 4 * N * (2 * D * nL + perBlock) : 4 * N * nL * perBlock) +
    (recompute ? loraActivations / nL : loraActivations);
  const scatter = request.scatterEmbeddingGradient ?? true;
  const embeddingGradientBytes = V > 512 && !scatter && mode === 'full' ? 8 * N * V : 4 * N * D;
  // Head terms: full training accumulates dW [D, V] chunk by chunk (old sum, part, new sum);
  // a frozen head (LoRA) has none, only the [D, V] copy of a tied head where transpose flags are
  // slow (counted whatever the backend, to stay an upper bound).
  const headBytes = mode === 'full' ? (N * V > chunk ? 3 : 2) * 4 * V * D : headCopy;
  const logitsBytes = LOGITS_COPIES * 4 * Math.min(N * V, chunk) + headBytes;
  const weightBytes = 4 * P;
  const gradientBytes = 4 * trainable;
  const optimizerBytes = 8 * trainable;
  // Saved weight copies: all blocks at once without recomputation, one block with it.
  const savedWeightBytes = recompute ? (4 * matmulP) / nL : 4 * matmulP;
  return {
    parameters: P,
    trainableParameters: trainable,
    weightBytes,
    gradientBytes,
    optimizerBytes,
    savedWeightBytes,
    activationBytes,
    logitsBytes,
    embeddingGradientBytes,
    totalBytes:
      weightBytes +
      gradientBytes +
      optimizerBytes +
      savedWeightBytes +
      activationBytes +
      logitsBytes +
      embeddingGradientBytes,
  };
}

/** A one-line breakdown of an estimate, for messages and logs. */
export function formatMemoryEstimate(e: MemoryEstimate): string {
  return `${fmt(e.totalBytes)} = weights ${fmt(e.weightBytes)} + gradients ${fmt(e.gradientBytes)} + AdamW moments ${fmt(e.optimizerBytes)} + saved weight copies ${fmt(e.savedWeightBytes)} + activations ${fmt(e.activationBytes)} + logits ${fmt(e.logitsBytes)} + embedding gradient ${fmt(e.embeddingGradientBytes)} (${(e.parameters / 1e6).toFixed(1)} M parameters, ${(e.trainableParameters / 1e6).toFixed(2)} M trainable)`;
}

/**
 * Refuse before loading when {@link estimateMemory} exceeds `limitBytes` (default
 * {@link WASM_HEAP_LIMIT_BYTES}, the wasm heap), so a run never dies of an out-of-memory error
 * halfway. The message gives the numbers and what to do: LoRA instead of full training,
 * activation recomputation, a smaller batch or shorter sequences.
 * @returns the estimate when it fits.
 * @throws Error with the breakdown when it does not.
 */
export function checkMemoryFits(
  config: ModelConfig,
  request: MemoryRequest,
  options: { readonly limitBytes?: number; readonly what?: string } = {},
): MemoryEstimate {
  const limit = options.limitBytes ?? WASM_HEAP_LIMIT_BYTES;
  const e = estimateMemory(config, request);
  if (e.totalBytes <= limit) return e;
  const hints: string[] = [];
  if (request.mode === 'full') hints.push("train LoRA adapters instead (mode 'lora')");
  if (request.mode !== 'inference' && request.recompute !== true) {
    hints.push('turn on activation recomputation (activationRecomputation: true)');
  }
  if (request.batch > 1) hints.push(`lower the batch (${request.batch})`);
  hints.push(`shorten the sequences (${request.length} tokens)`);
  const hd = headDimOf(config);
  throw new Error(
    `checkMemoryFits: ${options.what ?? 'the model'} (${config.nLayers} layers, d ${config.dModel}, head ${hd}, vocab ${config.vocabSize}) needs about ${formatMemoryEstimate(e)} for ${request.mode} at batch ${request.batch} × ${request.length} tokens, more than the ${fmt(limit)} limit; ${hints.join(', or ')}`,
  );
}
