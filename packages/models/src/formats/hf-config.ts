/**
 * Hugging Face `config.json` ↔ {@link ModelConfig}, for the architectures the decoders implement:
 * `gpt2` (transformers `GPT2Config`), `llama` (`LlamaConfig`, SmolLM), `qwen2` (`Qwen2Config`,
 * Qwen2 and Qwen2.5) and `qwen3` (`Qwen3Config`, dense Qwen3).
 *
 * @packageDocumentation
 */
import type { ModelConfig } from '../config.js';
import { headDimOf, validateModelConfig } from '../config.js';

/** The `model_type` values {@link modelConfigFromHf} accepts. */
export const SUPPORTED_HF_MODEL_TYPES = Object.freeze(['gpt2', 'llama', 'qwen2', 'qwen3'] as const);

/**
 * The `architectures` entries each `model_type` accepts (the causal-LM class transformers builds;
 * the bare `*Model` classes have the same weights without the head prefix handling).
 */
const ARCHITECTURES: Readonly<Record<HfModelType, readonly string[]>> = {
  gpt2: ['GPT2LMHeadModel', 'GPT2Model'],
  llama: ['LlamaForCausalLM', 'LlamaModel'],
  qwen2: ['Qwen2ForCausalLM', 'Qwen2Model'],
  qwen3: ['Qwen3ForCausalLM', 'Qwen3Model'],
};

/** One of {@link SUPPORTED_HF_MODEL_TYPES}. */
export type HfModelType = (typeof SUPPORTED_HF_MODEL_TYPES)[number];

/** transformers' default `initializer_range` for all three architectures. */
const DEFAULT_INIT_STD = 0.02;

/** GPT-2 activations that are the tanh-approximated GELU the gpt2 decoder computes. */
const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];

/**
 * Whether a `rope_scaling` value means no scaling: transformers' `{ rope_type: 'default' }` or the
 * legacy `{ type: 'default' }` (both, when given, must say `'default'`; other keys are unused by
 * the default RoPE).
 */
function isDefaultRope(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { rope_type: ropeType, type } = value as Record<string, unknown>;
  if (ropeType === undefined && type === undefined) return false;
  return (ropeType ?? 'default') === 'default' && (type ?? 'default') === 'default';
}

/**
 * Decode a Hugging Face `config.json` object into a validated {@link ModelConfig}.
 *
 * | HF field (gpt2) | HF field (llama, qwen2) | ModelConfig |
 * |---|---|---|
 * | `vocab_size` | `vocab_size` | `vocabSize` |
 * | `n_embd` | `hidden_size` | `dModel` |
 * | `n_layer` | `num_hidden_layers` | `nLayers` |
 * | `n_head` | `num_attention_heads` | `nHeads` |
 * | (= `n_head`) | `num_key_value_heads` (default `num_attention_heads`) | `nKvHeads` |
 * | `n_inner` (null/absent → `4·n_embd`) | `intermediate_size` | `dFf` |
 * | `n_positions` | `max_position_embeddings` | `maxContext` |
 * | `layer_norm_epsilon` (default 1e-5) | `rms_norm_eps` (default 1e-6) | `normEps` |
 * | (10000, unused) | `rope_theta` (default 10000) | `ropeTheta` |
 * | always true | llama: `attention_bias` (default false); qwen2: true | `qkvBias` |
 * | `tie_word_embeddings` (default true) | `tie_word_embeddings` (default false) | `tieEmbeddings` |
 * | (D / H) | `head_dim` (default `hidden_size / num_attention_heads`) | `headDim` (set only when it differs) |
 * | — | qwen3: always (`q_norm`, `k_norm`) | `qkNorm` |
 * | `initializer_range` (default 0.02) | `initializer_range` (default 0.02) | `initStd` |
 *
 * Features the decoders do not implement are rejected instead of silently ignored: `rope_scaling`
 * other than `{ rope_type: 'default' }` (or the legacy `{ type: 'default' }`, transformers' name for
 * no scaling, accepted as plain RoPE), a `head_dim` other than `hidden_size / num_attention_heads`,
 * sliding-window attention (`use_sliding_window: true`), `mlp_bias: true`, a `hidden_act` other
 * than `silu`, an `attention_dropout` other than 0 (training would differ), `layer_types` with an
 * entry other than `'full_attention'`, `partial_rotary_factor` other than 1, an `architectures`
 * entry that is not the causal-LM class of the `model_type` (for example
 * `Qwen2ForSequenceClassification`); for GPT-2 an `activation_function` other than the tanh GELU (`gelu_new`),
 * `scale_attn_weights: false` (the decoder always divides scores by `sqrt(head_dim)`) and
 * `scale_attn_by_inverse_layer_idx: true` (it never divides them by `layer_idx + 1`). Llama's and
 * Qwen3's `attention_bias: true` would also put a bias on `o_proj`, which the canonical layout has
 * no slot for, so it is rejected. The `*_pdrop` dropout fields of GPT-2 configs are not applied:
 * the decoders run without dropout (RL fine-tuning as the methods here do it), which is stated
 * rather than refused because every GPT-2 checkpoint sets them.
 *
 * @param json - the parsed `config.json`.
 * @param options.file - file name used in error messages.
 * @throws Error naming the file and the missing or invalid field; an unknown `model_type` names
 *   it and lists the supported ones.
 */
export function modelConfigFromHf(
  json: unknown,
  options: { readonly file?: string } = {},
): ModelConfig {
  const file = options.file ?? 'config.json';
  const fail = (why: string): never => {
    throw new Error(`modelConfigFromHf: ${file}: ${why}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail('must contain a JSON object');
  }
  const obj = json as Record<string, unknown>;
  const modelType = obj['model_type'];
  const has = (field: string): boolean => obj[field] !== undefined && obj[field] !== null;
  const int = (field: string, fallback?: number): number => {
    const v = obj[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      return fail(`missing field '${field}' (required for model_type '${String(modelType)}')`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      return fail(`field '${field}' must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (field: string, fallback: number): number => {
    const v = obj[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return fail(`field '${field}' must be a finite number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    const v = obj[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean')
      return fail(`field '${field}' must be a boolean, got ${JSON.stringify(v)}`);
    return v;
  };
  const unsupported = (field: string, why: string): never =>
    fail(`field '${field}' = ${JSON.stringify(obj[field])} is not supported: ${why}`);
  if (
    (SUPPORTED_HF_MODEL_TYPES as readonly unknown[]).includes(modelType) &&
    has('architectures')
  ) {
    const archs = obj['architectures'];
    const allowed = ARCHITECTURES[modelType as HfModelType];
    if (!Array.isArray(archs) || archs.some((a) => !allowed.includes(String(a)))) {
      unsupported(
        'architectures',
        `model_type '${String(modelType)}' is loaded as ${allowed.join(' or ')}; other heads are not implemented`,
      );
    }
  }

  if (modelType === 'gpt2') {
    const dModel = int('n_embd');
    const activation = obj['activation_function'];
    if (activation !== undefined && !GPT2_ACTIVATIONS.includes(String(activation))) {
      unsupported(
        'activation_function',
        `the gpt2 decoder computes the tanh GELU (${GPT2_ACTIVATIONS.join(', ')})`,
      );
    }
    if (!bool('scale_attn_weights', true)) {
      unsupported(
        'scale_attn_weights',
        'the gpt2 decoder always scales attention scores by 1/sqrt(head_dim)',
      );
    }
    if (bool('scale_attn_by_inverse_layer_idx', false)) {
      unsupported(
        'scale_attn_by_inverse_layer_idx',
        'the gpt2 decoder does not divide attention scores by layer_idx + 1',
      );
    }
    const nHeads = int('n_head');
    return validateModelConfig({
      family: 'gpt2',
      vocabSize: int('vocab_size'),
      dModel,
      nLayers: int('n_layer'),
      nHeads,
      nKvHeads: nHeads,
      dFf: int('n_inner', 4 * dModel),
      maxContext: int('n_positions'),
      normEps: num('layer_norm_epsilon', 1e-5),
      ropeTheta: 10000,
      qkvBias: true,
      tieEmbeddings: bool('tie_word_embeddings', true),
      initStd: num('initializer_range', DEFAULT_INIT_STD),
    });
  }
  if (modelType === 'llama' || modelType === 'qwen2' || modelType === 'qwen3') {
    const dModel = int('hidden_size');
    const nHeads = int('num_attention_heads');
    const qwen3 = modelType === 'qwen3';
    if (has('rope_scaling') && !isDefaultRope(obj['rope_scaling'])) {
      unsupported(
        'rope_scaling',
        "only plain RoPE is implemented ({ rope_type: 'default' }); remove it or use a model without scaling",
      );
    }
    const headDim = int('head_dim', dModel / nHeads);
    if (headDim % 2 !== 0) unsupported('head_dim', 'RoPE needs an even head size');
    if (has('partial_rotary_factor') && obj['partial_rotary_factor'] !== 1) {
      unsupported('partial_rotary_factor', 'RoPE rotates the whole head');
    }
    if (num('attention_dropout', 0) !== 0) {
      unsupported('attention_dropout', 'the decoders run attention without dropout; set it to 0');
    }
    if (has('layer_types')) {
      const types = obj['layer_types'];
      if (!Array.isArray(types) || types.some((t) => t !== 'full_attention')) {
        unsupported('layer_types', "only 'full_attention' layers are implemented");
      }
    }
    if (obj['hidden_act'] !== undefined && obj['hidden_act'] !== 'silu') {
      unsupported('hidden_act', "the llama decoder's gated MLP uses silu");
    }
    if (bool('mlp_bias', false)) unsupported('mlp_bias', 'the llama MLP has no biases');
    if (bool('use_sliding_window', false)) {
      unsupported('use_sliding_window', 'attention is full causal attention');
    }
    const attentionBias = bool('attention_bias', false);
    if (modelType !== 'qwen2' && attentionBias) {
      unsupported('attention_bias', 'it adds a bias to o_proj, which the canonical layout lacks');
    }
    return validateModelConfig({
      family: 'llama',
      vocabSize: int('vocab_size'),
      dModel,
      nLayers: int('num_hidden_layers'),
      nHeads,
      nKvHeads: int('num_key_value_heads', nHeads),
      dFf: int('intermediate_size'),
      maxContext: int('max_position_embeddings'),
      normEps: num('rms_norm_eps', 1e-6),
      ropeTheta: num('rope_theta', 10000),
      qkvBias: modelType === 'qwen2',
      tieEmbeddings: bool('tie_word_embeddings', false),
      initStd: num('initializer_range', DEFAULT_INIT_STD),
      ...(dModel % nHeads !== 0 || headDim !== dModel / nHeads ? { headDim } : {}),
      ...(qwen3 ? { qkNorm: true } : {}),
    });
  }
  return fail(
    `unsupported model_type ${JSON.stringify(modelType)}; supported: ${SUPPORTED_HF_MODEL_TYPES.join(', ')}`,
  );
}

/**
 * The Hugging Face `config.json` object for a {@link ModelConfig}: `gpt2` for the gpt2 family,
 * `qwen3` for the llama family with `qkNorm` (then `qkvBias` must be false), `qwen2` for the
 * llama family with `qkvBias`, `llama` otherwise (`head_dim` written when `headDim` is set), with the `architectures` entry
 * transformers needs to pick the causal-LM class. {@link modelConfigFromHf} inverts it exactly
 * (except `ropeTheta` of gpt2 configs, which GPT-2 does not use and is read back as 10000).
 *
 * @throws Error when a gpt2 config has `qkvBias: false` (GPT-2 always has q/k/v biases).
 */
export function modelConfigToHf(config: ModelConfig): Record<string, unknown> {
  const c = validateModelConfig(config);
  if (c.family === 'gpt2') {
    if (!c.qkvBias) {
      throw new Error(
        'modelConfigToHf: config.qkvBias is false, but GPT-2 always has q/k/v biases',
      );
    }
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: c.vocabSize,
      n_embd: c.dModel,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      n_inner: c.dFf,
      n_positions: c.maxContext,
      n_ctx: c.maxContext,
      layer_norm_epsilon: c.normEps,
      activation_function: 'gelu_new',
      tie_word_embeddings: c.tieEmbeddings,
      initializer_range: c.initStd,
      torch_dtype: 'float32',
    };
  }
  const qwen3 = c.qkNorm === true;
  if (qwen3 && c.qkvBias) {
    throw new Error(
      'modelConfigToHf: config has both qkNorm (Qwen3) and qkvBias; Qwen3 has no q/k/v-only biases',
    );
  }
  const qwen2 = c.qkvBias;
  const common = {
    ...(c.headDim === undefined ? {} : { head_dim: c.headDim }),
  };
  if (qwen3) {
    return {
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      vocab_size: c.vocabSize,
      hidden_size: c.dModel,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      num_key_value_heads: c.nKvHeads,
      head_dim: headDimOf(c),
      intermediate_size: c.dFf,
      max_position_embeddings: c.maxContext,
      rms_norm_eps: c.normEps,
      rope_theta: c.ropeTheta,
      hidden_act: 'silu',
      tie_word_embeddings: c.tieEmbeddings,
      initializer_range: c.initStd,
      torch_dtype: 'float32',
      attention_bias: false,
      use_sliding_window: false,
    };
  }
  return {
    architectures: [qwen2 ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen2 ? 'qwen2' : 'llama',
    ...common,
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    intermediate_size: c.dFf,
    max_position_embeddings: c.maxContext,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: c.tieEmbeddings,
    initializer_range: c.initStd,
    torch_dtype: 'float32',
    ...(qwen2 ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false }),
  };
}
