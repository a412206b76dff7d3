/**
 * Model configuration shared by every decoder family, and the canonical parameter names.
 *
 * Canonical parameter names (own layout; every linear weight is stored `[in, out]` so the forward
 * pass is `x · W` on the fast rank-2 matmul path):
 *
 * | name | shape | families |
 * |---|---|---|
 * | `embed.weight` | `[V, D]` | all |
 * | `pos.weight` | `[maxContext, D]` | gpt2 |
 * | `layers.{i}.norm1.weight` / `.bias` | `[D]` | all / gpt2 |
 * | `layers.{i}.attn.q.weight` | `[D, H·hd]` | all |
 * | `layers.{i}.attn.k.weight`, `.v.weight` | `[D, KV·hd]` | all |
 * | `layers.{i}.attn.{q,k,v}.bias` | `[H·hd]`, `[KV·hd]` | gpt2, llama with `qkvBias` |
 * | `layers.{i}.attn.o.weight` / `.bias` | `[H·hd, D]` / `[D]` | all / gpt2 |
 * | `layers.{i}.norm2.weight` / `.bias` | `[D]` | all / gpt2 |
 * | `layers.{i}.mlp.up.weight` / `.bias` | `[D, F]` / `[F]` | all / gpt2 |
 * | `layers.{i}.mlp.gate.weight` | `[D, F]` | llama |
 * | `layers.{i}.mlp.down.weight` / `.bias` | `[F, D]` / `[D]` | all / gpt2 |
 * | `final_norm.weight` / `.bias` | `[D]` | all / gpt2 |
 * | `lm_head.weight` | `[D, V]` | untied heads only (tied heads use `embed.weight`ᵀ) |
 *
 * | `layers.{i}.attn.q_norm.weight`, `.k_norm.weight` | `[hd]` | llama with `qkNorm` (Qwen3) |
 *
 * `hd` is the head size: `headDim` when set (Qwen3 may have `H·hd ≠ D`), else `D / H`;
 * `KV = nKvHeads` divides `H` (grouped-query attention).
 */

/** Decoder family: GPT-2 style, or Llama style (which covers Qwen2 with `qkvBias: true`). */
export type ModelFamily = 'gpt2' | 'llama';

export interface ModelConfig {
  readonly family: ModelFamily;
  /** V: vocabulary size. */
  readonly vocabSize: number;
  /** D: model width. */
  readonly dModel: number;
  readonly nLayers: number;
  /** H: attention heads; must divide `dModel`. */
  readonly nHeads: number;
  /** KV: key/value heads (grouped-query attention); must divide `nHeads`. Equal to `nHeads` for gpt2. */
  readonly nKvHeads: number;
  /** F: MLP hidden width. */
  readonly dFf: number;
  /** Longest sequence the model accepts (learned positions for gpt2, RoPE range for llama). */
  readonly maxContext: number;
  /** LayerNorm / RMSNorm epsilon. */
  readonly normEps: number;
  /** RoPE base θ (llama only). */
  readonly ropeTheta: number;
  /** Biases on q, k, v projections (gpt2: always true; llama: false, qwen2: true). */
  readonly qkvBias: boolean;
  /** Output head shares the embedding matrix. */
  readonly tieEmbeddings: boolean;
  /** Standard deviation of the normal initialisation of weights. */
  readonly initStd: number;
  /**
   * hd: size of one attention head (llama family only). Optional: absent means `dModel / nHeads`
   * (which must then divide). Qwen3 configs set it independently of `dModel` (e.g. 128 with
   * `dModel` 1024 and 16 heads). Must be even (RoPE rotates pairs).
   */
  readonly headDim?: number;
  /**
   * Qwen3's per-head RMSNorm of queries and keys before RoPE (`q_norm`, `k_norm`, weights `[hd]`,
   * epsilon `normEps`). Llama family only; absent means false.
   */
  readonly qkNorm?: boolean;
}

/** The head size of `config`: `headDim` when set, else `dModel / nHeads`. */
export function headDimOf(config: ModelConfig): number {
  return config.headDim ?? config.dModel / config.nHeads;
}

/** Defaults for the fields a caller may omit. */
export function defaultModelConfig(
  family: ModelFamily,
  overrides: Partial<ModelConfig> & Pick<ModelConfig, 'vocabSize'>,
): ModelConfig {
  const dModel = overrides.dModel ?? 128;
  const nHeads = overrides.nHeads ?? 4;
  const base: ModelConfig = {
    family,
    vocabSize: overrides.vocabSize,
    dModel,
    nLayers: 4,
    nHeads,
    nKvHeads: nHeads,
    dFf: family === 'gpt2' ? 4 * dModel : Math.round((8 * dModel) / 3 / 8) * 8,
    maxContext: 256,
    normEps: family === 'gpt2' ? 1e-5 : 1e-6,
    ropeTheta: 10000,
    qkvBias: family === 'gpt2',
    tieEmbeddings: true,
    initStd: 0.02,
  };
  const merged = { ...base, ...overrides, family };
  return validateModelConfig(merged);
}

/**
 * Check a config and return it frozen.
 * @throws Error naming `ModelConfig.<field>` and what to set instead.
 */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  const fail = (field: string, why: string): never => {
    throw new Error(`ModelConfig.${field}: ${why}`);
  };
  if (config.family !== 'gpt2' && config.family !== 'llama') {
    fail('family', `unknown family '${String(config.family)}'; use 'gpt2' or 'llama'`);
  }
  for (const key of [
    'vocabSize',
    'dModel',
    'nLayers',
    'nHeads',
    'nKvHeads',
    'dFf',
    'maxContext',
  ] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v < 1) fail(key, `must be a positive integer, got ${String(v)}`);
  }
  if (config.headDim !== undefined) {
    if (config.family === 'gpt2') {
      fail('headDim', 'is llama-family only; gpt2 heads are dModel / nHeads (leave it unset)');
    }
    if (!Number.isInteger(config.headDim) || config.headDim < 2 || config.headDim % 2 !== 0) {
      fail('headDim', `must be an even integer ≥ 2 (RoPE rotates pairs), got ${config.headDim}`);
    }
  } else if (config.dModel % config.nHeads !== 0) {
    fail('nHeads', `must divide dModel (${config.dModel}) or set headDim, got ${config.nHeads}`);
  }
  if (config.family === 'llama' && headDimOf(config) % 2 !== 0) {
    fail(
      config.headDim === undefined ? 'nHeads' : 'headDim',
      `the llama head size must be even (RoPE rotates pairs), got ${headDimOf(config)}`,
    );
  }
  if (config.qkNorm !== undefined && typeof config.qkNorm !== 'boolean') {
    fail('qkNorm', `must be a boolean, got ${String(config.qkNorm)}`);
  }
  if (config.qkNorm === true && config.family === 'gpt2') {
    fail('qkNorm', 'q/k norms (Qwen3) are llama-family only');
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    fail('nKvHeads', `must divide nHeads (${config.nHeads}), got ${config.nKvHeads}`);
  }
  if (config.family === 'gpt2' && config.nKvHeads !== config.nHeads) {
    fail('nKvHeads', `gpt2 has no grouped-query attention; set it to nHeads (${config.nHeads})`);
  }
  if (!(config.normEps > 0)) fail('normEps', `must be > 0, got ${config.normEps}`);
  if (!(config.ropeTheta > 0)) fail('ropeTheta', `must be > 0, got ${config.ropeTheta}`);
  if (!(config.initStd > 0)) fail('initStd', `must be > 0, got ${config.initStd}`);
  return Object.freeze({ ...config });
}
