/**
 * Model directories laid out like a Hugging Face model repository:
 *
 * ```
 * config.json                      HF config (gpt2, llama or qwen2)
 * model.safetensors                weights, HF names
 *   or model.safetensors.index.json + shards   ({ "weight_map": { name: shard file } })
 * tokenizer.json [+ tokenizer_config.json]     HF tokenizer, or
 * covrl-char-tokenizer.json                    covrl's character tokenizer
 * ```
 *
 * @packageDocumentation
 */
import type { Tokenizer } from '@covrl/sampler';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../config.js';
import { writeFileAtomic } from './atomic-write.js';
import { modelConfigFromHf, modelConfigToHf } from './hf-config.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalToHf, hfToCanonical } from './hf-weights.js';
import type { SafetensorsTensor } from './safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file.js';
import { CHAR_TOKENIZER_FILE, CharTokenizer } from './tokenizer/char-tokenizer.js';
import { readCharTokenizer, writeCharTokenizer } from './tokenizer/char-tokenizer-file.js';
import { HF_TOKENIZER_FILE, HfTokenizer } from './tokenizer/hf-tokenizer.js';
import { readHfTokenizer, writeHfTokenizer } from './tokenizer/hf-tokenizer-file.js';

/** The Hugging Face model config file of a model directory. */
export const CONFIG_FILE = 'config.json';
/** The single-file weights of a model directory. */
export const WEIGHTS_FILE = 'model.safetensors';
/** The index of sharded weights: `{ "weight_map": { tensorName: shardFileName } }`. */
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** A loaded model directory. */
export interface PretrainedFiles {
  readonly config: ModelConfig;
  /** Canonical name → `[in, out]` float tensor (see `config.ts`). */
  readonly weights: Record<string, FloatTensorEntry>;
  readonly tokenizer: CharTokenizer | HfTokenizer;
  /** Where everything came from. */
  readonly source: {
    readonly dir: string;
    /** The HF `model_type` of `config.json`. */
    readonly modelType: string;
    readonly configFile: string;
    /** `model.safetensors`, or the shard files in the order first named by the index. */
    readonly weightFiles: readonly string[];
    readonly tokenizerFile: string;
    /** `__metadata__` of the (first) weights file. */
    readonly metadata: Readonly<Record<string, string>>;
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (_error) {
    return false;
  }
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(
      `loadPretrainedFiles: cannot read ${path} (${what}): ${(error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`loadPretrainedFiles: ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Read the HF-named tensors of `dir`: one file, or the shards of an index. */
async function readHfTensors(dir: string): Promise<{
  tensors: Record<string, SafetensorsTensor>;
  files: string[];
  metadata: Record<string, string>;
}> {
  const single = join(dir, WEIGHTS_FILE);
  if (await exists(single)) {
    const { tensors, metadata } = await readSafetensorsFile(single);
    return { tensors, files: [single], metadata };
  }
  const indexPath = join(dir, WEIGHTS_INDEX_FILE);
  if (!(await exists(indexPath))) {
    const hint = (await exists(join(dir, 'pytorch_model.bin')))
      ? ' It has pytorch_model.bin: convert it to safetensors first (for example with transformers: model.save_pretrained(dir, safe_serialization=True)).'
      : ' Save one with savePretrainedFiles or download the model repository with its safetensors weights.';
    throw new Error(
      `loadPretrainedFiles: ${dir} has neither ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE}.${hint}`,
    );
  }
  const index = await readJson(indexPath, 'sharded weights index');
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) {
    throw new Error(`loadPretrainedFiles: ${indexPath}: missing object field 'weight_map'`);
  }
  const shardOf = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new Error(
        `loadPretrainedFiles: ${indexPath}: weight_map['${name}'] must be a file name in the same directory`,
      );
    }
    shardOf.set(name, shard);
  }
  const shards = [...new Set(shardOf.values())];
  const tensors: Record<string, SafetensorsTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [k, shard] of shards.entries()) {
    const path = join(dir, shard);
    if (!(await exists(path))) {
      throw new Error(
        `loadPretrainedFiles: shard ${path} named by ${WEIGHTS_INDEX_FILE} is missing; download it`,
      );
    }
    const file = await readSafetensorsFile(path);
    if (k === 0) metadata = file.metadata;
    for (const [name, t] of Object.entries(file.tensors)) {
      if (shardOf.get(name) !== shard) {
        throw new Error(
          `loadPretrainedFiles: tensor '${name}' is in ${path} but ${WEIGHTS_INDEX_FILE} maps it to ${String(shardOf.get(name))}`,
        );
      }
      tensors[name] = t;
    }
  }
  for (const [name, shard] of shardOf) {
    if (tensors[name] === undefined) {
      throw new Error(
        `loadPretrainedFiles: tensor '${name}' is mapped to ${join(dir, shard)} by the index but not in it`,
      );
    }
  }
  return { tensors, files: shards.map((s) => join(dir, s)), metadata };
}

/**
 * Load a model directory: `config.json` through {@link modelConfigFromHf}, the safetensors
 * weights (single file or sharded index, F32/F16/BF16) through {@link hfToCanonical}, and the
 * tokenizer (`covrl-char-tokenizer.json` when present, else `tokenizer.json`).
 *
 * Turn the weights into TF.js tensors with `recordToTensors({ record: weights })` for
 * `createCausalLM(config, { weights })`.
 *
 * @throws Error naming the missing or invalid file and what to do; also when the tokenizer's
 *   vocabulary is larger than the model's `vocabSize` (ids would index past the embedding).
 */
export async function loadPretrainedFiles(dir: string): Promise<PretrainedFiles> {
  const configFile = join(dir, CONFIG_FILE);
  if (!(await exists(configFile))) {
    throw new Error(
      `loadPretrainedFiles: ${configFile} not found; a model directory needs an HF config.json (model_type gpt2, llama or qwen2). Write one with savePretrainedFiles.`,
    );
  }
  const rawConfig = await readJson(configFile, 'model config');
  const config = modelConfigFromHf(rawConfig, { file: configFile });
  const { tensors, files, metadata } = await readHfTensors(dir);
  const weights = hfToCanonical(tensors, config, {
    file: files.length === 1 ? (files[0] as string) : join(dir, WEIGHTS_INDEX_FILE),
  });
  const charFile = join(dir, CHAR_TOKENIZER_FILE);
  const hfFile = join(dir, HF_TOKENIZER_FILE);
  let tokenizer: CharTokenizer | HfTokenizer;
  let tokenizerFile: string;
  if (await exists(charFile)) {
    tokenizer = await readCharTokenizer(charFile);
    tokenizerFile = charFile;
  } else if (await exists(hfFile)) {
    tokenizer = await readHfTokenizer(hfFile);
    tokenizerFile = hfFile;
  } else {
    throw new Error(
      `loadPretrainedFiles: ${dir} has no tokenizer: expected ${CHAR_TOKENIZER_FILE} or ${HF_TOKENIZER_FILE} (download tokenizer.json with the model, or save a tokenizer with savePretrainedFiles)`,
    );
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(
      `loadPretrainedFiles: ${tokenizerFile} has ${tokenizer.vocabSize} tokens but ${configFile} has vocab_size ${config.vocabSize}; they belong to different models`,
    );
  }
  return {
    config,
    weights,
    tokenizer,
    source: {
      dir,
      modelType: String((rawConfig as Record<string, unknown>)['model_type']),
      configFile,
      weightFiles: files,
      tokenizerFile,
      metadata,
    },
  };
}

/**
 * Write a model directory that {@link loadPretrainedFiles} (and transformers, for the weights and
 * config) can read: `config.json` from {@link modelConfigToHf}, `model.safetensors` in HF naming
 * ({@link canonicalToHf}, F32, metadata `{ format: 'pt' }` as transformers requires), and the
 * tokenizer file (`covrl-char-tokenizer.json`, or `tokenizer.json` + `tokenizer_config.json`;
 * both for a character tokenizer with `hfTokenizerJson: true`).
 * The directory is created if needed; every file is written atomically. A tokenizer file of the
 * other kind already in `dir` is left alone, but the character tokenizer wins on load.
 *
 * @throws Error when a weight is missing or mis-shaped for `config` (see {@link canonicalToHf}),
 *   or the tokenizer's vocabulary exceeds `config.vocabSize`.
 */
export async function savePretrainedFiles(
  dir: string,
  files: {
    readonly config: ModelConfig;
    readonly weights: Readonly<Record<string, FloatTensorEntry>>;
    readonly tokenizer: CharTokenizer | HfTokenizer;
    /** Extra `__metadata__` entries for model.safetensors. */
    readonly metadata?: Readonly<Record<string, string>>;
    /**
     * With a {@link CharTokenizer}, also write its HF form (`tokenizer.json` +
     * `tokenizer_config.json`, see `CharTokenizer.toHfTokenizerJson`) so HF tools can load the
     * directory. Default false.
     */
    readonly hfTokenizerJson?: boolean;
  },
): Promise<void> {
  const { config, weights, tokenizer } = files;
  if (!(tokenizer instanceof CharTokenizer) && !(tokenizer instanceof HfTokenizer)) {
    throw new Error(
      'savePretrainedFiles: tokenizer must be a CharTokenizer or an HfTokenizer (others cannot be saved)',
    );
  }
  if ((tokenizer as Tokenizer).vocabSize > config.vocabSize) {
    throw new Error(
      `savePretrainedFiles: tokenizer has ${tokenizer.vocabSize} tokens but config.vocabSize is ${config.vocabSize}`,
    );
  }
  const hfConfig = modelConfigToHf(config);
  const hfWeights = canonicalToHf(weights, config, { file: join(dir, WEIGHTS_FILE) });
  await mkdir(dir, { recursive: true });
  await writeSafetensorsFile(join(dir, WEIGHTS_FILE), hfWeights, {
    ...files.metadata,
    format: 'pt',
  });
  const eos = tokenizer.eosId;
  await writeFileAtomic(
    join(dir, CONFIG_FILE),
    `${JSON.stringify(eos === undefined ? hfConfig : { ...hfConfig, eos_token_id: eos }, null, 2)}\n`,
  );
  if (tokenizer instanceof CharTokenizer) {
    await writeCharTokenizer(tokenizer, join(dir, CHAR_TOKENIZER_FILE));
    if (files.hfTokenizerJson === true) {
      const hf = HfTokenizer.fromJSON(tokenizer.toHfTokenizerJson(), {
        tokenizerConfig: tokenizer.toHfTokenizerConfig(),
      });
      await writeHfTokenizer(hf, dir);
    }
  } else {
    await writeHfTokenizer(tokenizer, dir);
  }
}
