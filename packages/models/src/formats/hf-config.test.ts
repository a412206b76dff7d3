import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config.js';
import { defaultModelConfig } from '../config.js';
import { modelConfigFromHf, modelConfigToHf } from './hf-config.js';

// Field values copied from the published config.json files of openai-community/gpt2,
// TinyLlama/TinyLlama-1.1B-Chat-v1.0 and Qwen/Qwen2.5-0.5B (abridged).
const gpt2Json = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};
const llamaJson = {
  architectures: ['LlamaForCausalLM'],
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  vocab_size: 32000,
};
const qwen2Json = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// Qwen/Qwen3-0.6B (abridged): head_dim 128 with hidden 1024 and 16 heads, q/k norms, tied.
const qwen3Json = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('modelConfigFromHf', () => {
  it('decodes Qwen3: head_dim independent of hidden_size, q/k norms, no q/k/v biases', () => {
    expect(modelConfigFromHf(qwen3Json)).toEqual({
      family: 'llama',
      vocabSize: 151936,
      dModel: 1024,
      nLayers: 28,
      nHeads: 16,
      nKvHeads: 8,
      headDim: 128,
      qkNorm: true,
      dFf: 3072,
      maxContext: 40960,
      normEps: 1e-6,
      ropeTheta: 1000000,
      qkvBias: false,
      tieEmbeddings: true,
      initStd: 0.02,
    });
  });

  it('reads a GPT-2 config (n_inner null → 4·n_embd, tied embeddings by default)', () => {
    expect(modelConfigFromHf(gpt2Json, { file: 'gpt2/config.json' })).toEqual({
      family: 'gpt2',
      vocabSize: 50257,
      dModel: 768,
      nLayers: 12,
      nHeads: 12,
      nKvHeads: 12,
      dFf: 3072,
      maxContext: 1024,
      normEps: 1e-5,
      ropeTheta: 10000,
      qkvBias: true,
      tieEmbeddings: true,
      initStd: 0.02,
    } satisfies ModelConfig);
  });

  it('reads a Llama config with grouped-query attention', () => {
    expect(modelConfigFromHf(llamaJson)).toEqual({
      family: 'llama',
      vocabSize: 32000,
      dModel: 2048,
      nLayers: 22,
      nHeads: 32,
      nKvHeads: 4,
      dFf: 5632,
      maxContext: 2048,
      normEps: 1e-5,
      ropeTheta: 10000,
      qkvBias: false,
      tieEmbeddings: false,
      initStd: 0.02,
    } satisfies ModelConfig);
  });

  it('reads a Qwen2 config as the llama family with q/k/v biases', () => {
    const c = modelConfigFromHf(qwen2Json);
    expect(c).toMatchObject({
      family: 'llama',
      dModel: 896,
      nHeads: 14,
      nKvHeads: 2,
      dFf: 4864,
      ropeTheta: 1e6,
      normEps: 1e-6,
      qkvBias: true,
      tieEmbeddings: true,
      maxContext: 32768,
    });
  });

  it('defaults num_key_value_heads to num_attention_heads and tie_word_embeddings to false', () => {
    const { num_key_value_heads: _kv, tie_word_embeddings: _tie, ...rest } = llamaJson;
    const c = modelConfigFromHf(rest);
    expect(c.nKvHeads).toBe(32);
    expect(c.tieEmbeddings).toBe(false);
  });

  it('names an unknown model_type and lists the supported ones', () => {
    expect(() =>
      modelConfigFromHf({ ...llamaJson, model_type: 'mistral' }, { file: 'm/config.json' }),
    ).toThrow(
      'modelConfigFromHf: m/config.json: unsupported model_type "mistral"; supported: gpt2, llama, qwen2',
    );
    expect(() => modelConfigFromHf([])).toThrow(/must contain a JSON object/);
  });

  it('names a missing or invalid field', () => {
    const { n_head: _h, ...noHeads } = gpt2Json;
    expect(() => modelConfigFromHf(noHeads, { file: 'g/config.json' })).toThrow(
      "modelConfigFromHf: g/config.json: missing field 'n_head' (required for model_type 'gpt2')",
    );
    const { intermediate_size: _f, ...noFf } = qwen2Json;
    expect(() => modelConfigFromHf(noFf)).toThrow(/missing field 'intermediate_size'/);
    expect(() => modelConfigFromHf({ ...llamaJson, hidden_size: 20.5 })).toThrow(
      /field 'hidden_size' must be a positive integer, got 20.5/,
    );
    expect(() => modelConfigFromHf({ ...llamaJson, tie_word_embeddings: 'yes' })).toThrow(
      /field 'tie_word_embeddings' must be a boolean/,
    );
    // Cross-field rules of validateModelConfig still apply.
    expect(() => modelConfigFromHf({ ...llamaJson, num_key_value_heads: 5 })).toThrow(
      /ModelConfig\.nKvHeads/,
    );
  });

  it('rejects features the decoders do not implement', () => {
    expect(() =>
      modelConfigFromHf({ ...llamaJson, rope_scaling: { rope_type: 'llama3', factor: 8 } }),
    ).toThrow(/field 'rope_scaling' = .* is not supported/);
    expect(modelConfigFromHf({ ...qwen2Json, head_dim: 128 }).headDim).toBe(128);
    expect(modelConfigFromHf({ ...qwen2Json, head_dim: 64 }).headDim).toBeUndefined();
    expect(() => modelConfigFromHf({ ...qwen2Json, head_dim: 63 })).toThrow(/field 'head_dim'/);
    expect(() => modelConfigFromHf({ ...qwen3Json, attention_bias: true })).toThrow(
      /field 'attention_bias'/,
    );
    expect(() => modelConfigFromHf({ ...qwen3Json, use_sliding_window: true })).toThrow(
      /use_sliding_window/,
    );
    expect(() =>
      modelConfigFromHf({ ...qwen3Json, layer_types: ['full_attention', 'sliding_attention'] }),
    ).toThrow(/field 'layer_types'/);
    expect(() =>
      modelConfigFromHf({ ...qwen3Json, layer_types: ['full_attention', 'full_attention'] }),
    ).not.toThrow();
    expect(() => modelConfigFromHf({ ...qwen2Json, attention_dropout: 0.1 })).toThrow(
      /field 'attention_dropout'/,
    );
    expect(() => modelConfigFromHf({ ...llamaJson, partial_rotary_factor: 0.5 })).toThrow(
      /field 'partial_rotary_factor'/,
    );
    expect(() =>
      modelConfigFromHf({ ...qwen2Json, architectures: ['Qwen2ForSequenceClassification'] }),
    ).toThrow(/field 'architectures'.*Qwen2ForCausalLM/);
    expect(() => modelConfigFromHf({ ...qwen2Json, model_type: 'qwen2_moe' })).toThrow(
      /unsupported model_type "qwen2_moe"; supported: gpt2, llama, qwen2, qwen3/,
    );
    expect(() => modelConfigFromHf({ ...llamaJson, hidden_act: 'gelu' })).toThrow(
      /field 'hidden_act'/,
    );
    expect(() => modelConfigFromHf({ ...llamaJson, attention_bias: true })).toThrow(
      /field 'attention_bias'/,
    );
    expect(() => modelConfigFromHf({ ...qwen2Json, use_sliding_window: true })).toThrow(
      /use_sliding_window/,
    );
    expect(() => modelConfigFromHf({ ...gpt2Json, activation_function: 'relu' })).toThrow(
      /activation_function/,
    );
  });

  it('rejects GPT-2 attention scalings the decoder does not compute, naming the field', () => {
    expect(() => modelConfigFromHf({ ...gpt2Json, scale_attn_weights: false })).toThrow(
      /config\.json: field 'scale_attn_weights' = false is not supported: .*1\/sqrt\(head_dim\)/,
    );
    expect(() => modelConfigFromHf({ ...gpt2Json, scale_attn_by_inverse_layer_idx: true })).toThrow(
      /field 'scale_attn_by_inverse_layer_idx' = true is not supported: .*layer_idx \+ 1/,
    );
    expect(() => modelConfigFromHf({ ...gpt2Json, scale_attn_weights: 'yes' })).toThrow(
      /field 'scale_attn_weights' must be a boolean/,
    );
    // The published GPT-2 configs state the defaults explicitly; those load.
    const defaults = {
      ...gpt2Json,
      scale_attn_weights: true,
      scale_attn_by_inverse_layer_idx: false,
      reorder_and_upcast_attn: false,
    };
    expect(modelConfigFromHf(defaults)).toEqual(modelConfigFromHf(gpt2Json));
  });

  it("accepts rope_scaling { rope_type: 'default' } (or type) as plain RoPE", () => {
    const plain = modelConfigFromHf(llamaJson);
    for (const ropeScaling of [
      { rope_type: 'default' },
      { type: 'default' },
      { rope_type: 'default', type: 'default' },
    ]) {
      expect(modelConfigFromHf({ ...llamaJson, rope_scaling: ropeScaling })).toEqual(plain);
      expect(() => modelConfigFromHf({ ...qwen2Json, rope_scaling: ropeScaling })).not.toThrow();
    }
    for (const ropeScaling of [
      { rope_type: 'linear', factor: 2 },
      { type: 'dynamic', factor: 2 },
      { rope_type: 'default', type: 'yarn' },
      { factor: 2 },
      'default',
    ]) {
      expect(() => modelConfigFromHf({ ...llamaJson, rope_scaling: ropeScaling })).toThrow(
        /field 'rope_scaling' = .* is not supported/,
      );
    }
  });
});

describe('modelConfigToHf', () => {
  it('writes the HF fields and model types', () => {
    const qwen = modelConfigFromHf(qwen2Json);
    const { max_window_layers: _m, sliding_window: _s, ...qwenFields } = qwen2Json;
    expect(modelConfigToHf(qwen)).toMatchObject(qwenFields);
    const llama = modelConfigToHf(modelConfigFromHf(llamaJson));
    expect(llama).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      num_key_value_heads: 4,
    });
    expect(modelConfigToHf(modelConfigFromHf(gpt2Json))).toMatchObject({
      ...gpt2Json,
      n_inner: 3072,
    });
  });

  it('round-trips every valid config (property)', () => {
    const arbitraryConfig = fc
      .record({
        family: fc.constantFrom('gpt2' as const, 'llama' as const),
        vocabSize: fc.integer({ min: 1, max: 1000 }),
        headSize: fc.integer({ min: 1, max: 8 }),
        nKvHeads: fc.integer({ min: 1, max: 4 }),
        groups: fc.integer({ min: 1, max: 3 }),
        nLayers: fc.integer({ min: 1, max: 6 }),
        dFf: fc.integer({ min: 1, max: 100 }),
        maxContext: fc.integer({ min: 1, max: 4096 }),
        normEps: fc.double({ min: 1e-8, max: 1e-2, noNaN: true }),
        ropeTheta: fc.double({ min: 1, max: 1e7, noNaN: true }),
        qkvBias: fc.boolean(),
        tieEmbeddings: fc.boolean(),
        initStd: fc.double({ min: 1e-4, max: 1, noNaN: true }),
        qwen3: fc.boolean(),
        wideHeads: fc.boolean(),
      })
      .map((r): ModelConfig => {
        const llama = r.family === 'llama';
        const nHeads = r.nKvHeads * (llama ? r.groups : 1);
        // llama heads are even (RoPE); Qwen3-style configs may set head_dim ≠ hidden / heads.
        const headSize = llama ? 2 * r.headSize : r.headSize;
        const qwen3 = llama && r.qwen3;
        return defaultModelConfig(r.family, {
          ...(qwen3 ? { qkNorm: true } : {}),
          ...(llama && r.wideHeads ? { headDim: headSize + 2 } : {}),
          vocabSize: r.vocabSize,
          dModel: nHeads * headSize,
          nHeads,
          nKvHeads: r.family === 'gpt2' ? nHeads : r.nKvHeads,
          nLayers: r.nLayers,
          dFf: r.dFf,
          maxContext: r.maxContext,
          normEps: r.normEps,
          ropeTheta: r.family === 'gpt2' ? 10000 : r.ropeTheta,
          qkvBias: r.family === 'gpt2' ? true : r.qkvBias && !qwen3,
          tieEmbeddings: r.tieEmbeddings,
          initStd: r.initStd,
        });
      });
    fc.assert(
      fc.property(arbitraryConfig, (config) => {
        const json = JSON.parse(JSON.stringify(modelConfigToHf(config))) as unknown;
        expect(modelConfigFromHf(json)).toEqual(config);
      }),
      { numRuns: 100, seed: 3 },
    );
  });

  it('rejects a gpt2 config without q/k/v biases', () => {
    const c = defaultModelConfig('gpt2', { vocabSize: 10, qkvBias: false });
    expect(() => modelConfigToHf(c)).toThrow(/qkvBias is false/);
  });
});
