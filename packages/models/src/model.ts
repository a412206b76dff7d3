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

  constructor(
    readonly config: ModelConfig,
    initial: Readonly<Record<string, tf.Tensor>>,
    matMulGradient: MatMulGradientMode,
    generateOptions: GenerateOptions = {},
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
  }

  private alive(fn: string): void {
    if (this.disposed) throw new Error(`CausalLM.${fn}: the model was disposed`);
  }

  /** The trainable variables by canonical name (the model owns them). */
  variables(): ReadonlyMap<string, tf.Variable> {
    this.alive('variables');
    return this.vars;
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
  if (options.weights !== undefined) {
    validateWeights('createCausalLM', cfg, options.weights);
    return new CausalLM(cfg, options.weights, mode, generateOptions);
  }
  const init = initWeights({ config: cfg, seed: options.seed });
  try {
    return new CausalLM(cfg, init, mode, generateOptions);
  } finally {
    tf.dispose(Object.values(init));
  }
}
