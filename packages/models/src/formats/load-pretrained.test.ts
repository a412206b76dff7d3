import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config.js';
import { defaultModelConfig } from '../config.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalParameterShapes, canonicalToHf } from './hf-weights.js';
import { loadPretrainedFiles, savePretrainedFiles } from './load-pretrained.js';
import { recordToTensors } from './safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file.js';
import { tinyByteLevelBpeJson } from './testing.js';
import { CharTokenizer } from './tokenizer/char-tokenizer.js';
import { writeCharTokenizer } from './tokenizer/char-tokenizer-file.js';
import { HfTokenizer } from './tokenizer/hf-tokenizer.js';

const TAGS = ['<think>', '</think>', '<answer>', '</answer>'];

function randomWeights(config: ModelConfig, seed: number): Record<string, FloatTensorEntry> {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  return Object.fromEntries(
    Object.entries(canonicalParameterShapes(config)).map(([name, shape]) => [
      name,
      { shape: [...shape], data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map(next) },
    ]),
  );
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covrl-pretrained-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('savePretrainedFiles / loadPretrainedFiles', () => {
  it('round-trips a gpt2 model with a character tokenizer bit-exactly', async () => {
    const tokenizer = CharTokenizer.fromCorpus(
      ['Question: 7*6?\n<think>42</think><answer>42</answer>'],
      {
        atomicTokens: TAGS,
      },
    );
    const config = defaultModelConfig('gpt2', {
      vocabSize: tokenizer.vocabSize,
      dModel: 8,
      nHeads: 2,
      nLayers: 2,
      maxContext: 16,
    });
    const weights = randomWeights(config, 1);
    const dir = join(root, 'gpt2-char');
    await savePretrainedFiles(dir, { config, weights, tokenizer, metadata: { step: '7' } });
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'covrl-char-tokenizer.json',
      'model.safetensors',
    ]);
    const hfConfig = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(hfConfig).toMatchObject({
      model_type: 'gpt2',
      n_embd: 8,
      eos_token_id: tokenizer.eosId,
    });
    const raw = await readSafetensorsFile(join(dir, 'model.safetensors'));
    expect(raw.metadata).toEqual({ step: '7', format: 'pt' });
    expect(raw.tensors['transformer.h.1.attn.c_attn.weight']?.shape).toEqual([8, 24]);
    expect(raw.tensors['lm_head.weight']).toBeUndefined();

    const loaded = await loadPretrainedFiles(dir);
    expect(loaded.config).toEqual(config);
    expect(loaded.weights).toEqual(weights);
    expect(loaded.tokenizer).toBeInstanceOf(CharTokenizer);
    expect(loaded.tokenizer.encode('<think>42</think>')).toEqual(
      tokenizer.encode('<think>42</think>'),
    );
    expect(loaded.source).toEqual({
      dir,
      modelType: 'gpt2',
      configFile: join(dir, 'config.json'),
      weightFiles: [join(dir, 'model.safetensors')],
      tokenizerFile: join(dir, 'covrl-char-tokenizer.json'),
      metadata: { step: '7', format: 'pt' },
    });
    // The glue the app uses: plain records → tf tensors with the canonical shapes.
    const before = tf.memory().numTensors;
    const tensors = recordToTensors({ record: loaded.weights });
    expect(tensors['layers.0.attn.q.weight']?.shape).toEqual([8, 8]);
    tf.dispose(Object.values(tensors));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('also writes the HF form of a character tokenizer on request, and prefers the covrl file', async () => {
    const tokenizer = CharTokenizer.fromAlphabet('ab<>/thinkswer', { atomicTokens: TAGS });
    const config = defaultModelConfig('llama', {
      vocabSize: tokenizer.vocabSize,
      dModel: 4,
      nHeads: 1,
      nLayers: 1,
      dFf: 4,
    });
    const dir = join(root, 'char-with-hf');
    await savePretrainedFiles(dir, {
      config,
      weights: randomWeights(config, 9),
      tokenizer,
      hfTokenizerJson: true,
    });
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'covrl-char-tokenizer.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect((await loadPretrainedFiles(dir)).tokenizer).toBeInstanceOf(CharTokenizer);
    await rm(join(dir, 'covrl-char-tokenizer.json'));
    const loaded = await loadPretrainedFiles(dir);
    expect(loaded.tokenizer).toBeInstanceOf(HfTokenizer);
    expect(loaded.tokenizer.eosId).toBe(tokenizer.eosId);
    const text = 'ab<think>ba</think><answer>a</answer>';
    expect(loaded.tokenizer.encode(text)).toEqual(tokenizer.encode(text));
  });

  it('round-trips a qwen2 model with an HF tokenizer (tokenizer.json + tokenizer_config.json)', async () => {
    const tokenizer = HfTokenizer.fromJSON(tinyByteLevelBpeJson(), {
      tokenizerConfig: { eos_token: '<|endoftext|>' },
    });
    const config = defaultModelConfig('llama', {
      vocabSize: 272,
      dModel: 8,
      nHeads: 4,
      nKvHeads: 2,
      nLayers: 1,
      dFf: 16,
      qkvBias: true,
      tieEmbeddings: false,
    });
    const weights = randomWeights(config, 2);
    const dir = join(root, 'qwen2-hf');
    await savePretrainedFiles(dir, { config, weights, tokenizer });
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const loaded = await loadPretrainedFiles(dir);
    expect(loaded.source.modelType).toBe('qwen2');
    expect(loaded.config).toEqual(config);
    expect(loaded.weights).toEqual(weights);
    expect(loaded.tokenizer).toBeInstanceOf(HfTokenizer);
    expect(loaded.tokenizer.eosId).toBe(0);
    expect(loaded.tokenizer.encode('the<think>')).toEqual(tokenizer.encode('the<think>'));
  });

  it('reads sharded weights through model.safetensors.index.json', async () => {
    const tokenizer = CharTokenizer.fromAlphabet('abc');
    const config = defaultModelConfig('llama', {
      vocabSize: 8,
      dModel: 8,
      nHeads: 2,
      nLayers: 2,
      dFf: 8,
    });
    const weights = randomWeights(config, 3);
    const dir = join(root, 'sharded');
    await savePretrainedFiles(dir, { config, weights, tokenizer });
    await rm(join(dir, 'model.safetensors'));
    const hf = canonicalToHf(weights, config);
    const names = Object.keys(hf).sort();
    const shards = [names.slice(0, 5), names.slice(5)];
    const weightMap: Record<string, string> = {};
    for (const [k, shard] of shards.entries()) {
      const file = `model-0000${k + 1}-of-00002.safetensors`;
      await writeSafetensorsFile(
        join(dir, file),
        Object.fromEntries(shard.map((n) => [n, hf[n] as FloatTensorEntry])),
        {
          format: 'pt',
        },
      );
      for (const n of shard) weightMap[n] = file;
    }
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const loaded = await loadPretrainedFiles(dir);
    expect(loaded.weights).toEqual(weights);
    expect(loaded.source.weightFiles).toEqual([
      join(dir, 'model-00001-of-00002.safetensors'),
      join(dir, 'model-00002-of-00002.safetensors'),
    ]);

    // An index that maps a tensor to the wrong shard, or names a missing shard, is an error.
    const first = names[0] as string;
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { ...weightMap, [first]: 'model-00002-of-00002.safetensors' } }),
    );
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      new RegExp(
        `tensor '${first.replace(/\./g, '\\.')}' is in .*model-00001-of-00002\\.safetensors but`,
      ),
    );
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { ...weightMap, [first]: 'model-00003-of-00003.safetensors' } }),
    );
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /shard .*model-00003-of-00003\.safetensors named by/,
    );
  });
});

/** Write HF tensors as a safetensors file by hand: BF16 (upper 16 bits) except F16 overrides. */
async function writeHalfPrecisionFile(
  path: string,
  tensors: Record<string, FloatTensorEntry>,
  f16: Record<string, number[]>,
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = new Uint8Array(2 * t.data.length);
    const view = new DataView(bytes.buffer);
    const f32bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const half = f16[name];
    for (let i = 0; i < t.data.length; i++) {
      view.setUint16(
        2 * i,
        half === undefined ? (f32bits[i] as number) >>> 16 : (half[i] as number),
        true,
      );
    }
    header[name] = {
      dtype: half === undefined ? 'BF16' : 'F16',
      shape: t.shape,
      data_offsets: [offset, offset + bytes.length],
    };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let cursor = 8 + json.length;
  for (const c of chunks) {
    out.set(c, cursor);
    cursor += c.length;
  }
  await writeFile(path, out);
}

describe('half-precision checkpoints', () => {
  it('loads BF16 and F16 weights as float32', async () => {
    const tokenizer = CharTokenizer.fromAlphabet('abc');
    const config = defaultModelConfig('llama', {
      vocabSize: 8,
      dModel: 8,
      nHeads: 2,
      nLayers: 1,
      dFf: 8,
    });
    // Round every weight to bfloat16 (truncate the low 16 bits) so BF16 storage is exact.
    const weights = Object.fromEntries(
      Object.entries(randomWeights(config, 8)).map(([name, t]) => {
        const data = t.data.slice();
        const bits = new Uint32Array(data.buffer);
        for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] as number) & 0xffff0000;
        return [name, { shape: t.shape, data }];
      }),
    );
    // final_norm as F16: 0x3c00 = 1, 0x3800 = 0.5 (hand-computed).
    const normBits = [0x3c00, 0x3800, 0x3c00, 0x3800, 0x3c00, 0x3800, 0x3c00, 0x3800];
    weights['final_norm.weight'] = {
      shape: [8],
      data: new Float32Array([1, 0.5, 1, 0.5, 1, 0.5, 1, 0.5]),
    };
    const dir = join(root, 'half');
    await savePretrainedFiles(dir, { config, weights, tokenizer });
    await writeHalfPrecisionFile(join(dir, 'model.safetensors'), canonicalToHf(weights, config), {
      'model.norm.weight': normBits,
    });
    const raw = await readSafetensorsFile(join(dir, 'model.safetensors'));
    expect(raw.tensors['model.norm.weight']?.dtype).toBe('F16');
    expect(raw.tensors['model.embed_tokens.weight']?.dtype).toBe('BF16');
    const loaded = await loadPretrainedFiles(dir);
    expect(loaded.weights).toEqual(weights);
  });
});

describe('loadPretrainedFiles errors name the file and what to do', () => {
  const tokenizer = CharTokenizer.fromAlphabet('ab');
  const config = defaultModelConfig('gpt2', {
    vocabSize: 4,
    dModel: 4,
    nHeads: 1,
    nLayers: 1,
    maxContext: 4,
  });

  it('missing config.json', async () => {
    const dir = join(root, 'empty');
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /empty\/config\.json not found; .*savePretrainedFiles/,
    );
  });

  it('missing weights, with a hint for pytorch_model.bin', async () => {
    const dir = join(root, 'no-weights');
    await savePretrainedFiles(dir, { config, weights: randomWeights(config, 4), tokenizer });
    await rm(join(dir, 'model.safetensors'));
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /has neither model\.safetensors nor model\.safetensors\.index\.json\. Save one/,
    );
    await writeFile(join(dir, 'pytorch_model.bin'), '');
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(/convert it to safetensors/);
  });

  it('missing tokenizer, and a tokenizer larger than the model vocabulary', async () => {
    const dir = join(root, 'no-tokenizer');
    await savePretrainedFiles(dir, { config, weights: randomWeights(config, 5), tokenizer });
    await rm(join(dir, 'covrl-char-tokenizer.json'));
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /no tokenizer: expected covrl-char-tokenizer\.json or tokenizer\.json/,
    );
    await writeCharTokenizer(
      CharTokenizer.fromAlphabet('abcdef'),
      join(dir, 'covrl-char-tokenizer.json'),
    );
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /has 8 tokens but .*config\.json has vocab_size 4/,
    );
  });

  it('a config that does not match the weights names the tensor', async () => {
    const dir = join(root, 'mismatch');
    await savePretrainedFiles(dir, { config, weights: randomWeights(config, 6), tokenizer });
    const hfConfig = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...hfConfig, n_inner: 8 }));
    await expect(loadPretrainedFiles(dir)).rejects.toThrow(
      /model\.safetensors: tensor 'transformer\.h\.0\.mlp\.c_fc\.weight': expected shape \[4, 8\], got \[4, 16\]/,
    );
  });

  it('savePretrainedFiles names a missing canonical weight and writes nothing', async () => {
    const dir = join(root, 'not-written');
    const { ['final_norm.bias']: _gone, ...weights } = randomWeights(config, 7);
    await expect(savePretrainedFiles(dir, { config, weights, tokenizer })).rejects.toThrow(
      /missing canonical tensor 'final_norm\.bias'/,
    );
    await expect(readdir(dir)).rejects.toThrow();
  });
});
