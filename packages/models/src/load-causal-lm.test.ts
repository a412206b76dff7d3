import * as tf from '@tensorflow/tfjs-core';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { modelConfigToHf } from './formats/hf-config.js';
import type { FloatTensorEntry } from './formats/hf-weights.js';
import { canonicalToHf } from './formats/hf-weights.js';
import { writeSafetensorsFile } from './formats/safetensors-file.js';
import { tinyByteLevelBpeJson } from './formats/testing.js';
import { HfTokenizer } from './formats/tokenizer/hf-tokenizer.js';
import { writeHfTokenizer } from './formats/tokenizer/hf-tokenizer-file.js';
import { loadCausalLM } from './load-causal-lm.js';
import { createCausalLM } from './model.js';
import { tinyGpt2Config, tinyLlamaConfig } from './testing/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covrl-load-causal-lm-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * Write an HF-like directory by hand, as a model repository has it: `config.json` (HF fields),
 * `model.safetensors` (HF tensor names), `tokenizer.json` (+ `tokenizer_config.json`).
 * Returns the source model's weights by canonical name.
 */
async function writeModelDir(
  dir: string,
  config: ModelConfig,
  edit: (tensors: Record<string, FloatTensorEntry>) => void = () => undefined,
): Promise<Record<string, FloatTensorEntry>> {
  const source = createCausalLM(config, { seed: 11 });
  const weights: Record<string, FloatTensorEntry> = {};
  for (const [name, v] of source.variables()) {
    weights[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  }
  source.dispose();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(modelConfigToHf(config), null, 2));
  const hf = canonicalToHf(weights, config);
  edit(hf);
  await writeSafetensorsFile(join(dir, 'model.safetensors'), hf, { format: 'pt' });
  await writeHfTokenizer(HfTokenizer.fromJSON(tinyByteLevelBpeJson()), dir);
  return weights;
}

describe('loadCausalLM', () => {
  const vocabSize = 300; // ≥ the tiny byte-level BPE's vocabulary
  it.each([
    ['gpt2', tinyGpt2Config({ vocabSize })],
    ['qwen2', tinyLlamaConfig({ vocabSize, qkvBias: true })],
    ['llama', tinyLlamaConfig({ vocabSize, tieEmbeddings: true })],
  ])(
    'loads a %s directory into a model, tokenizer and config in one call',
    async (kind, config) => {
      const dir = join(root, kind);
      const weights = await writeModelDir(dir, config);
      const before = tf.memory().numTensors;
      const { model, tokenizer, config: loaded, source } = await loadCausalLM(dir);
      // Only the model's variables stay allocated.
      expect(tf.memory().numTensors).toBe(before + model.variables().size);
      expect(loaded).toEqual(config);
      expect(source.modelType).toBe(kind);
      expect(tokenizer).toBeInstanceOf(HfTokenizer);
      for (const [name, v] of model.variables()) {
        expect(Array.from(v.dataSync()), name).toEqual(Array.from(weights[name]!.data));
      }
      const ids = tokenizer.encode('<think>12</think>');
      expect(ids.length).toBeGreaterThan(0);
      const [row] = await model.generate({ prompts: [ids], maxNewTokens: 3, seeds: [0] });
      expect(row?.ids).toHaveLength(3);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('passes createCausalLM options through', async () => {
    const dir = join(root, 'options');
    await writeModelDir(dir, tinyGpt2Config({ vocabSize }));
    const { model } = await loadCausalLM(dir, {
      matMulGradient: 'flags',
      deviceSamplingMinVocab: 0,
    });
    const rows = await model.generate({ prompts: [[1]], maxNewTokens: 2, topK: 5, seeds: [3] });
    expect(rows[0]?.ids).toHaveLength(2);
    model.dispose();
    await expect(loadCausalLM(dir, { deviceSamplingMinVocab: -2 })).rejects.toThrow(
      /loadCausalLM: .*options: createCausalLM: options\.deviceSamplingMinVocab/,
    );
  });

  it('names the file, tensor or field that is wrong, and leaks nothing', async () => {
    const config = tinyLlamaConfig({ vocabSize });
    const before = tf.memory().numTensors;
    const missing = join(root, 'missing-tensor');
    await writeModelDir(missing, config, (t) => delete t['model.layers.1.mlp.up_proj.weight']);
    await expect(loadCausalLM(missing)).rejects.toThrow(
      /model\.safetensors.*model\.layers\.1\.mlp\.up_proj\.weight/,
    );
    const shape = join(root, 'wrong-shape');
    await writeModelDir(shape, config, (t) => {
      t['model.norm.weight'] = { shape: [3], data: new Float32Array(3) };
    });
    await expect(loadCausalLM(shape)).rejects.toThrow(/model\.norm\.weight.*\[3\]/);
    const arch = join(root, 'unknown-architecture');
    await writeModelDir(arch, config);
    await writeFile(join(arch, 'config.json'), JSON.stringify({ model_type: 'mamba' }));
    await expect(loadCausalLM(arch)).rejects.toThrow(/config\.json.*"mamba".*gpt2, llama, qwen2/);
    const field = join(root, 'bad-field');
    await writeModelDir(field, config);
    await writeFile(
      join(field, 'config.json'),
      JSON.stringify({ ...modelConfigToHf(config), num_hidden_layers: 'two' }),
    );
    await expect(loadCausalLM(field)).rejects.toThrow(/config\.json.*'num_hidden_layers'/);
    const corrupt = join(root, 'corrupt');
    await writeModelDir(corrupt, config);
    await writeFile(join(corrupt, 'model.safetensors'), Buffer.from([1, 2, 3]));
    await expect(loadCausalLM(corrupt)).rejects.toThrow(/model\.safetensors/);
    await expect(loadCausalLM(join(root, 'nowhere'))).rejects.toThrow(/config\.json not found/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
