import * as tf from '@tensorflow/tfjs-core';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config.js';
import { loadCausalLM } from '../load-causal-lm.js';
import { createCausalLM } from '../model.js';
import type { CausalLM } from '../model.js';
import { tinyLlamaConfig } from '../testing/index.js';
import { float32ToBf16Bits, serializeSafetensorsBf16 } from './bf16.js';
import { exportCausalLM, readGenerationConfig } from './export-pretrained.js';
import { modelConfigToHf } from './hf-config.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalToHf } from './hf-weights.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';
import { tinyByteLevelBpeJson } from './testing.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covrl-export-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const vocabSize = 300; // ≥ the tiny byte-level BPE's vocabulary
const qwen3 = tinyLlamaConfig({
  vocabSize,
  headDim: 6,
  qkNorm: true,
  tieEmbeddings: true,
  initStd: 0.2,
  ropeTheta: 1e6,
});
const ids = [[5, 17, 250, 3, 99, 42, 7]];

/** The extra fields a Hub config.json carries and the export must keep. */
const EXTRA_CONFIG = {
  bos_token_id: 0,
  eos_token_id: 0,
  transformers_version: '4.51.0',
  use_cache: true,
  torch_dtype: 'bfloat16',
  max_window_layers: 2,
  sliding_window: null,
};

/** A hand-written HF directory: BF16 weights (one file or two shards), tokenizer, generation config. */
async function writeHubDir(dir: string, config: ModelConfig, sharded: boolean): Promise<void> {
  const source = createCausalLM(config, { seed: 11 });
  const canonical: Record<string, FloatTensorEntry> = {};
  for (const [name, v] of source.variables()) {
    canonical[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  }
  source.dispose();
  const hf = canonicalToHf(canonical, config);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ ...modelConfigToHf(config), ...EXTRA_CONFIG }, null, 2),
  );
  if (sharded) {
    const names = Object.keys(hf).sort();
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (const [k, list] of shards.entries()) {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      const part = Object.fromEntries(list.map((n) => [n, hf[n] as FloatTensorEntry]));
      await writeFile(join(dir, file), serializeSafetensorsBf16(part));
      for (const n of list) weightMap[n] = file;
    }
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    );
  } else {
    await writeFile(join(dir, 'model.safetensors'), serializeSafetensorsBf16(hf));
  }
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyByteLevelBpeJson()));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: '<|endoftext|>', model_max_length: 32 }),
  );
  await writeFile(
    join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: [0, 2], temperature: 0.6, top_k: 20, top_p: 0.95 }),
  );
}

async function weightsOf(model: CausalLM): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, v] of model.variables()) {
    const data = (await v.data()) as Float32Array;
    out[name] = new Uint8Array(
      data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
    );
  }
  return out;
}

async function logitsOf(model: CausalLM): Promise<Float32Array> {
  const t = model.logits({ ids });
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

describe('exportCausalLM', () => {
  it.each([
    ['single BF16 file', false],
    ['two BF16 shards with an index', true],
  ])(
    'Qwen3 from %s: load → export → load gives the same weight bytes and logits',
    async (label, sharded) => {
      const src = join(root, `src-${String(sharded)}`);
      const out = join(root, `out-${String(sharded)}`);
      await writeHubDir(src, qwen3, sharded);
      const first = await loadCausalLM(src);
      expect(first.config).toEqual(qwen3);
      // BF16 → float32 on load is exact: every loaded value is a bfloat16 value.
      const embed = (await first.model.variables().get('embed.weight')?.data()) as Float32Array;
      const low = new Uint32Array(embed.buffer, embed.byteOffset, embed.length);
      expect(low.every((bits) => (bits & 0xffff) === 0)).toBe(true);
      expect(float32ToBf16Bits(embed[0] as number) << 16).toBe((low[0] as number) | 0);
      const { files } = await exportCausalLM(first.model, out, { sourceDir: src });
      expect(files).toEqual(
        expect.arrayContaining([
          'model.safetensors',
          'config.json',
          'tokenizer.json',
          'tokenizer_config.json',
          'generation_config.json',
        ]),
      );
      const second = await loadCausalLM(out);
      expect(second.config).toEqual(first.config);
      expect(await weightsOf(second.model)).toEqual(await weightsOf(first.model));
      expect(await logitsOf(second.model)).toEqual(await logitsOf(first.model));
      // config.json keeps every original field; only the dtype changes to what was written.
      const written = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const original = JSON.parse(await readFile(join(src, 'config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(written).toEqual({ ...original, torch_dtype: 'float32' });
      // Tokenizer and generation files are byte copies.
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
        expect(await readFile(join(out, f)), `${label}: ${f}`).toEqual(
          await readFile(join(src, f)),
        );
      }
      const file = parseSafetensors(await readFile(join(out, 'model.safetensors')));
      expect(file.metadata).toEqual({ format: 'pt' });
      expect(Object.values(file.tensors).every((t) => t.dtype === 'F32')).toBe(true);
      expect(file.tensors['model.layers.0.self_attn.q_norm.weight']?.shape).toEqual([6]);
      first.model.dispose();
      second.model.dispose();
    },
  );

  it('exports LoRA-trained models merged: the export gives the adapter logits', async () => {
    const src = join(root, 'src-lora');
    const out = join(root, 'out-lora');
    await writeHubDir(src, qwen3, false);
    const { model } = await loadCausalLM(src);
    const lora = model.addLora({ r: 2, loraAlpha: 4, targetModules: 'all-linear' }, { seed: 1 });
    // Non-zero B, as after training.
    for (const [name, v] of lora.variables()) {
      if (name.includes('.B')) {
        tf.tidy(() => v.assign(tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 3), 0.1)));
      }
    }
    const adapted = await logitsOf(model);
    await exportCausalLM(model, out, { sourceDir: src });
    const merged = await loadCausalLM(out);
    const got = await logitsOf(merged.model);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - (adapted[i] as number))), 0);
    expect(worst).toBeLessThan(1e-5);
    expect(merged.model.lora).toBeUndefined();
    model.dispose();
    merged.model.dispose();
  });

  it('refuses to overwrite its source and a config.json of another shape', async () => {
    const src = join(root, 'src-refuse');
    await writeHubDir(src, qwen3, false);
    const { model } = await loadCausalLM(src);
    await expect(exportCausalLM(model, src, { sourceDir: src })).rejects.toThrow(
      /is the source directory/,
    );
    const other = join(root, 'src-other');
    await writeHubDir(other, { ...qwen3, nLayers: 1 }, false);
    await expect(exportCausalLM(model, join(root, 'x'), { sourceDir: other })).rejects.toThrow(
      /describes another model/,
    );
    model.dispose();
  });

  it('without a source directory writes modelConfigToHf and F32 weights that load back', async () => {
    const out = join(root, 'plain');
    const model = createCausalLM(tinyLlamaConfig({ vocabSize, qkvBias: true }), { seed: 2 });
    await exportCausalLM(model, out);
    await writeFile(join(out, 'tokenizer.json'), JSON.stringify(tinyByteLevelBpeJson()));
    const back = await loadCausalLM(out);
    expect(await weightsOf(back.model)).toEqual(await weightsOf(model));
    model.dispose();
    back.model.dispose();
  });
});

describe('readGenerationConfig', () => {
  it('reads eos ids as a list and the sampling defaults; undefined without the file', async () => {
    const dir = join(root, 'gen');
    await mkdir(dir, { recursive: true });
    expect(await readGenerationConfig(dir)).toBeUndefined();
    await writeFile(
      join(dir, 'generation_config.json'),
      JSON.stringify({ eos_token_id: 7, top_p: 0.8 }),
    );
    expect(await readGenerationConfig(dir)).toMatchObject({ eosTokenIds: [7], topP: 0.8 });
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 'x' }));
    await expect(readGenerationConfig(dir)).rejects.toThrow(/field 'eos_token_id'/);
  });
});

// Keep serializeSafetensors in use for a plain F32 comparison of the writer.
it('F32 export bytes equal serializeSafetensors of the HF tensors', async () => {
  const out = join(root, 'bytes');
  const config = tinyLlamaConfig({ vocabSize });
  const model = createCausalLM(config, { seed: 9 });
  await exportCausalLM(model, out);
  const canonical: Record<string, FloatTensorEntry> = {};
  for (const [name, v] of model.variables()) {
    canonical[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  }
  expect(await readFile(join(out, 'model.safetensors'))).toEqual(
    Buffer.from(serializeSafetensors(canonicalToHf(canonical, config), { format: 'pt' })),
  );
  model.dispose();
});
