/**
 * Canonical parameter shapes of a {@link ModelConfig} and their seeded initialisation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { headDimOf } from './config.js';
import type { ModelConfig } from './config.js';
import { createRng } from './rng.js';

/**
 * Every canonical parameter name of `config` with its shape, in a stable order (embedding, per
 * layer, final norm, head). See `config.ts` for the table of names.
 */
export function parameterShapes(config: ModelConfig): Record<string, number[]> {
  const { vocabSize: V, dModel: D, nHeads: H, nKvHeads: KV, dFf: F } = config;
  const hd = headDimOf(config);
  const gpt2 = config.family === 'gpt2';
  const qkvBias = gpt2 || config.qkvBias;
  const shapes: Record<string, number[]> = { 'embed.weight': [V, D] };
  if (gpt2) shapes['pos.weight'] = [config.maxContext, D];
  for (let i = 0; i < config.nLayers; i++) {
    const p = `layers.${i}.`;
    shapes[`${p}norm1.weight`] = [D];
    if (gpt2) shapes[`${p}norm1.bias`] = [D];
    shapes[`${p}attn.q.weight`] = [D, H * hd];
    shapes[`${p}attn.k.weight`] = [D, KV * hd];
    shapes[`${p}attn.v.weight`] = [D, KV * hd];
    if (qkvBias) {
      shapes[`${p}attn.q.bias`] = [H * hd];
      shapes[`${p}attn.k.bias`] = [KV * hd];
      shapes[`${p}attn.v.bias`] = [KV * hd];
    }
    if (config.qkNorm === true) {
      shapes[`${p}attn.q_norm.weight`] = [hd];
      shapes[`${p}attn.k_norm.weight`] = [hd];
    }
    shapes[`${p}attn.o.weight`] = [H * hd, D];
    if (gpt2) shapes[`${p}attn.o.bias`] = [D];
    shapes[`${p}norm2.weight`] = [D];
    if (gpt2) shapes[`${p}norm2.bias`] = [D];
    shapes[`${p}mlp.up.weight`] = [D, F];
    if (gpt2) shapes[`${p}mlp.up.bias`] = [F];
    if (!gpt2) shapes[`${p}mlp.gate.weight`] = [D, F];
    shapes[`${p}mlp.down.weight`] = [F, D];
    if (gpt2) shapes[`${p}mlp.down.bias`] = [D];
  }
  shapes['final_norm.weight'] = [D];
  if (gpt2) shapes['final_norm.bias'] = [D];
  if (!config.tieEmbeddings) shapes['lm_head.weight'] = [D, V];
  return shapes;
}

/**
 * Seeded initial weights: norm weights 1, biases 0, every other matrix N(0, initStd²), except the
 * residual output projections (`attn.o.weight`, `mlp.down.weight`) with std
 * `initStd / sqrt(2·nLayers)` (GPT-2 paper §2.3, as in nanoGPT's `c_proj` init).
 * Normals come from {@link createRng} so the weights are identical on every backend.
 * @returns new tensors the caller owns.
 */
export function initWeights({
  config,
  seed,
}: {
  config: ModelConfig;
  seed: number;
}): Record<string, tf.Tensor> {
  const rng = createRng(seed);
  const shapes = parameterShapes(config);
  const residualStd = config.initStd / Math.sqrt(2 * config.nLayers);
  const out: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('.bias')) {
      out[name] = tf.zeros(shape);
    } else if (name.includes('norm')) {
      out[name] = tf.ones(shape);
    } else {
      const std =
        name.endsWith('attn.o.weight') || name.endsWith('mlp.down.weight')
          ? residualStd
          : config.initStd;
      const values = new Float32Array(size);
      // Host-side generation (not a tensor loop): seeded, backend-independent init.
      for (let j = 0; j < size; j++) values[j] = rng.normal() * std;
      out[name] = tf.tensor(values, shape, 'float32');
    }
  }
  return out;
}
