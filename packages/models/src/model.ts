/**
 * `CausalLM`: the TF.js decoder that implements the sampler's `Policy`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  GenerateRequest,
  GeneratedRow,
  Policy,
  ScoreRequest,
  ScoredSpan,
} from '@covrl/sampler';
import { validateModelConfig } from './config.js';
import type { ModelConfig } from './config.js';
import { generateWith } from './generate.js';
import type { GenerateOptions } from './generate.js';
import { Decoder } from './gpt.js';
import { initWeights, parameterShapes } from './init.js';
import { createOps } from './layers.js';
import type { MatMulGradientMode } from './layers.js';
import { LoraAdapters } from './lora.js';
import type { LoraConfig } from './lora.js';
import { checkIds, scoreTokensWith } from './score.js';

/** Options of {@link createCausalLM}. */
export interface CausalLMOptions {
  /** Seed of the N(0, initStd²) initialisation (ignored for names given in `weights`). */
  readonly seed: number;
  /** Initial weights by canonical name (all of them; see `config.ts`). Copied, not consumed. */
  readonly weights?: Readonly<Record<string, tf.Tensor>>;
  /**
   * How matmul gradients are written (default `'auto'`: explicit transposes on the stock wasm
   * kernels, transpose flags elsewhere; pass `'flags'` once a BLAS-backed `BatchMatMul` serves
   * wasm). Same values either way.
   */
  readonly matMulGradient?: MatMulGradientMode;
  /**
   * Vocabulary size from which `generate` samples on the device instead of reading the `[B, V]`
   * logits to the host (default `DEVICE_SAMPLING_MIN_VOCAB`; 0 = always, `Infinity` =
   * never). Same ids and log-probs either way; only the speed differs.
   */
  readonly deviceSamplingMinVocab?: number;
  /**
   * Largest `rows·V` block of logits that `scoreTokens` materialises at once (default
   * `LOGITS_CHUNK_ELEMENTS` = 2²³ floats, 32 MiB); above it the head and log-softmax run in row
   * chunks with recomputation in the backward pass. Same values either way (float32 rounding).
   */
  readonly logitsChunkElements?: number;
  /**
   * Activation recomputation (gradient checkpointing) in differentiable passes: each block keeps
   * only its input and is recomputed in the backward pass (one more block forward per block;
   * activation memory ∝ nLayers·N·D plus ONE block's activations instead of all of them).
   * Default false. See `CausalLM.setActivationRecomputation`.
   */
  readonly activationRecomputation?: boolean;
}

let modelCounter = 0;

/**
 * Check a weight record against the canonical names and shapes of `config`.
 * @throws Error naming the first unknown, missing or mis-shaped tensor.
 */
export function validateWeights(
  fn: string,
  config: ModelConfig,
  weights: Readonly<Record<string, tf.Tensor>>,
): void {
  const shapes = parameterShapes(config);
  for (const name of Object.keys(weights)) {
    if (!(name in shapes)) {
      throw new Error(
        `${fn}: weights['${name}'] is not a parameter of this ${config.family} config (expected names like 'layers.0.attn.q.weight')`,
      );
    }
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const w = weights[name];
    if (w === undefined)
      throw new Error(`${fn}: weights['${name}'] is missing (shape [${shape.join(', ')}])`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `${fn}: weights['${name}'] has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    }
    if (w.isDisposed) throw new Error(`${fn}: weights['${name}'] is disposed`);
  }
}

/** Request of {@link CausalLM.logits}. */
export interface LogitsRequest {
  /** `[B, L]` int32 ids (a tensor or equal-length arrays). Rows are position 0 at column 0. */
  readonly ids: tf.Tensor2D | readonly (readonly number[])[];
}

/**
 * A GPT-2 or Llama-family causal language model whose parameters are `tf.Variable`s named by
 * the canonical names of `config.ts`. Implements the sampler's `Policy`.
 */
export class CausalLM implements Policy {
  readonly vocabSize: number;
  readonly maxContext: number;
  /** Total number of scalar parameters (tied embeddings counted once). */
  readonly numParameters: number;
  private readonly vars: Map<string, tf.Variable>;
  private readonly decoder: Decoder;
  private readonly generateOptions: GenerateOptions;
  private disposed = false;
  private adapters: LoraAdapters | undefined;

  constructor(
    readonly config: ModelConfig,
    initial: Readonly<Record<string, tf.Tensor>>,
    matMulGradient: MatMulGradientMode,
    generateOptions: GenerateOptions = {},
    logitsChunkElements?: number,
    recompute = false,
  ) {
    this.generateOptions = generateOptions;
    this.vocabSize = config.vocabSize;
    this.maxContext = config.maxContext;
    const prefix = `covrl${++modelCounter}/`;
    this.vars = new Map();
    let count = 0;
    for (const [name, shape] of Object.entries(parameterShapes(config))) {
      const w = initial[name];
      if (w === undefined) throw new Error(`createCausalLM: weights['${name}'] is missing`);
      const value = w.dtype === 'float32' ? w : tf.cast(w, 'float32');
      this.vars.set(name, tf.variable(value, true, prefix + name, 'float32'));
      if (value !== w) value.dispose();
      count += shape.reduce((a, b) => a * b, 1);
    }
    this.numParameters = count;
    const lookup = (name: string): tf.Tensor => {
      const v = this.vars.get(name);
      if (v === undefined) throw new Error(`CausalLM: no parameter '${name}'`);
      return v;
    };
    this.decoder = new Decoder(config, lookup, createOps(matMulGradient));
    if (logitsChunkElements !== undefined) this.decoder.logitsChunkElements = logitsChunkElements;
    this.decoder.recompute = recompute;
  }

  private alive(fn: string): void {
    if (this.disposed) throw new Error(`CausalLM.${fn}: the model was disposed`);
  }

  /**
   * The base parameters by canonical name (the model owns them). Without LoRA these are the
   * trainable variables; with LoRA attached they are frozen (`trainable: false`) and
   * {@link CausalLM.trainableVariables} returns the adapters instead.
   */
  variables(): ReadonlyMap<string, tf.Variable> {
    this.alive('variables');
    return this.vars;
  }

  /**
   * What an optimizer should update: the LoRA adapter variables (`lora:<module>.A` / `.B`) when
   * {@link CausalLM.addLora} attached adapters, else every base parameter ({@link
   * CausalLM.variables}). `computeGradients` differentiates with respect to exactly these, so a
   * frozen base gets no gradients and no AdamW moments: pass this map to `optimizer.step`.
   */
  trainableVariables(): ReadonlyMap<string, tf.Variable> {
    this.alive('trainableVariables');
    return this.adapters?.variables() ?? this.vars;
  }

  /** Whether differentiable passes recompute block activations (see `activationRecomputation`). */
  get activationRecomputation(): boolean {
    return this.decoder.recompute;
  }

  /**
   * Turn activation recomputation on or off for later passes: same values and gradients, less
   * memory, about one more forward pass of compute per training step. Incompatible with LoRA
   * dropout (refused when both are on at the forward pass).
   */
  setActivationRecomputation(on: boolean): void {
    this.alive('setActivationRecomputation');
    this.decoder.recompute = on;
  }

  /** The attached LoRA adapters, or `undefined`. */
  get lora(): LoraAdapters | undefined {
    return this.adapters;
  }

  /**
   * Attach LoRA adapters (see `lora.ts`) to the projections `config.targetModules` selects:
   * `A` seeded as PEFT initialises it, `B = 0`, so the logits are unchanged until trained. The
   * base parameters become frozen (`trainable: false`). One adapter set per model.
   * @throws Error when adapters are already attached, or naming the bad `LoraConfig` field.
   */
  addLora(config: LoraConfig, options: { readonly seed: number }): LoraAdapters {
    this.alive('addLora');
    if (this.adapters !== undefined) {
      throw new Error('CausalLM.addLora: adapters are already attached (one set per model)');
    }
    if (!Number.isInteger(options.seed)) {
      throw new Error(
        `CausalLM.addLora: options.seed must be an integer, got ${String(options.seed)}`,
      );
    }
    const adapters = new LoraAdapters(this.config, config, options.seed);
    this.adapters = adapters;
    for (const v of this.vars.values()) v.trainable = false;
    this.decoder.adapters = (name, differentiable) => adapters.termFor(name, differentiable);
    return adapters;
  }

  /**
   * Detach and free the adapters; the base parameters become trainable again. No-op without
   * adapters.
   */
  removeLora(): void {
    this.alive('removeLora');
    if (this.adapters === undefined) return;
    this.adapters.dispose();
    this.adapters = undefined;
    this.decoder.adapters = undefined;
    for (const v of this.vars.values()) v.trainable = true;
  }

  /**
   * Whether the adapter terms are added (default true once attached). Off, the model computes
   * exactly its frozen base: GRPO's KL reference without a second copy of the weights. Do not
   * toggle while a `generate` call is in flight (its later steps would see the new state).
   */
  get adaptersEnabled(): boolean {
    return this.adapters?.enabled ?? false;
  }

  /** Turn the adapter terms on or off (see {@link CausalLM.adaptersEnabled}). */
  setAdaptersEnabled(enabled: boolean): void {
    this.alive('setAdaptersEnabled');
    if (this.adapters === undefined) {
      throw new Error('CausalLM.setAdaptersEnabled: no LoRA adapters attached (call addLora)');
    }
    this.adapters.enabled = enabled;
  }

  /**
   * Run `fn` (synchronous) with the adapters off, then restore their state, like PEFT's
   * `with model.disable_adapter():`. Without adapters it simply runs `fn`.
   */
  withAdaptersDisabled<T>(fn: () => T): T {
    this.alive('withAdaptersDisabled');
    const a = this.adapters;
    if (a === undefined) return fn();
    const was = a.enabled;
    a.enabled = false;
    try {
      return fn();
    } finally {
      a.enabled = was;
    }
  }

  /**
   * Copies of every base parameter with the adapters merged in (`W + s·A·B` for adapted
   * projections, plain copies otherwise): the weights of a full model to export. Without adapters,
   * the same as {@link CausalLM.getWeights}. The caller owns the tensors.
   */
  mergedWeights(): Record<string, tf.Tensor> {
    this.alive('mergedWeights');
    if (this.adapters === undefined) return this.getWeights();
    const merged = this.adapters.mergedDeltas(this.vars);
    const out: Record<string, tf.Tensor> = {};
    for (const [name, v] of this.vars) out[name] = merged[name] ?? tf.clone(v);
    return out;
  }

  /** Copies of every parameter by canonical name (the caller owns and disposes them). */
  getWeights(): Record<string, tf.Tensor> {
    this.alive('getWeights');
    const out: Record<string, tf.Tensor> = {};
    for (const [name, v] of this.vars) out[name] = tf.clone(v);
    return out;
  }

  /**
   * Overwrite every parameter (bit-exact copy). All canonical names must be present with their
   * shapes.
   * @throws Error naming the unknown, missing or mis-shaped tensor; nothing is assigned then.
   */
  setWeights(weights: Readonly<Record<string, tf.Tensor>>): void {
    this.alive('setWeights');
    validateWeights('setWeights', this.config, weights);
    for (const [name, v] of this.vars) {
      const w = weights[name] as tf.Tensor;
      tf.tidy(() => v.assign(w.dtype === 'float32' ? tf.clone(w) : tf.cast(w, 'float32')));
    }
  }

  /**
   * Full logits `[B, L, V]` for `ids [B, L]` (position `t` sees ids `0..t`). Not differentiable
   * only by accident: call inside `tf.variableGrads` to train on it.
   */
  logits(request: LogitsRequest): tf.Tensor3D {
    this.alive('logits');
    const { ids } = request;
    return tf.tidy(() => {
      let t: tf.Tensor2D;
      if (ids instanceof tf.Tensor) {
        if (ids.rank !== 2) throw new Error(`logits: ids must be [B, L], got rank ${ids.rank}`);
        t = ids.dtype === 'int32' ? ids : (tf.cast(ids, 'int32') as tf.Tensor2D);
      } else {
        if (ids.length === 0) throw new Error('logits: ids must have at least one row');
        const L = ids[0]?.length ?? 0;
        if (L === 0 || ids.some((r) => r.length !== L)) {
          throw new Error('logits: ids rows must all have the same non-zero length');
        }
        checkIds('logits', 'ids', ids, this.vocabSize);
        t = tf.tensor2d(
          ids.map((r) => Array.from(r)),
          [ids.length, L],
          'int32',
        );
      }
      const [B, L] = t.shape;
      if (L > this.maxContext)
        throw new Error(`logits: ids has ${L} columns, more than maxContext ${this.maxContext}`);
      const { hidden } = this.decoder.forward({ ids: t });
      return tf.reshape(this.decoder.logits(hidden, this.decoder.headWeight()), [
        B,
        L,
        this.vocabSize,
      ]) as tf.Tensor3D;
    });
  }

  /** Batched KV-cache sampling; see `generateWith` in `generate.ts` for the exact semantics. */
  generate(request: GenerateRequest): Promise<readonly GeneratedRow[]> {
    this.alive('generate');
    return generateWith(this.decoder, request, this.generateOptions);
  }

  /** Teacher-forced span log-probs; see `scoreTokensWith` in `score.ts`. Differentiable. */
  scoreTokens<K extends string>(request: ScoreRequest<K>): Readonly<Record<K, ScoredSpan>> {
    this.alive('scoreTokens');
    return scoreTokensWith(this.decoder, request);
  }

  /** Free every variable; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    this.adapters?.dispose();
    this.disposed = true;
  }
}

/**
 * Build a causal LM for `config` (gpt2 or llama family). Weights come from `options.weights`
 * when given (validated: every canonical name, exact shapes; copied), else from the seeded
 * initialisation {@link initWeights}.
 * @throws Error naming the bad config field or weight.
 */
export function createCausalLM(config: ModelConfig, options: CausalLMOptions): CausalLM {
  const cfg = validateModelConfig(config);
  if (!Number.isInteger(options.seed)) {
    throw new Error(`createCausalLM: options.seed must be an integer, got ${String(options.seed)}`);
  }
  const mode = options.matMulGradient ?? 'auto';
  if (mode !== 'auto' && mode !== 'transpose' && mode !== 'flags') {
    throw new Error(
      `createCausalLM: options.matMulGradient must be 'auto', 'transpose' or 'flags', got '${String(mode)}'`,
    );
  }
  const minVocab = options.deviceSamplingMinVocab;
  if (
    minVocab !== undefined &&
    !(minVocab >= 0 && (Number.isInteger(minVocab) || minVocab === Infinity))
  ) {
    throw new Error(
      `createCausalLM: options.deviceSamplingMinVocab must be an integer ≥ 0 or Infinity, got ${String(minVocab)}`,
    );
  }
  const generateOptions: GenerateOptions =
    minVocab === undefined ? {} : { deviceSamplingMinVocab: minVocab };
  const chunk = options.logitsChunkElements;
  if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1)) {
    throw new Error(
      `createCausalLM: options.logitsChunkElements must be an integer ≥ 1, got ${String(chunk)}`,
    );
  }
  const recompute = options.activationRecomputation ?? false;
  if (typeof recompute !== 'boolean') {
    throw new Error(
      `createCausalLM: options.activationRecomputation must be a boolean, got ${String(recompute)}`,
    );
  }
  if (options.weights !== undefined) {
    validateWeights('createCausalLM', cfg, options.weights);
    return new CausalLM(cfg, options.weights, mode, generateOptions, chunk, recompute);
  }
  const init = initWeights({ config: cfg, seed: options.seed });
  try {
    return new CausalLM(cfg, init, mode, generateOptions, chunk, recompute);
  } finally {
    tf.dispose(Object.values(init));
  }
}
