/**
 * Export a (trained) model back to the Hugging Face directory layout it came from (Node only;
 * listed by `@covrl/models/node`), and read `generation_config.json`.
 *
 * @packageDocumentation
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../config.js';
import type { CausalLM } from '../model.js';
import { writeFileAtomic } from './atomic-write.js';
import { modelConfigFromHf, modelConfigToHf } from './hf-config.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalToHf } from './hf-weights.js';
import { serializeSafetensors } from './safetensors.js';

/** HF's generation defaults file. */
export const GENERATION_CONFIG_FILE = 'generation_config.json';

/**
 * Files copied verbatim from the source directory by {@link exportCausalLM} when present:
 * tokenizers (fast and slow), their configs, chat templates and generation defaults.
 */
export const HF_AUXILIARY_FILES: readonly string[] = Object.freeze([
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'chat_template.jinja',
  'chat_template.json',
  GENERATION_CONFIG_FILE,
  'covrl-char-tokenizer.json',
]);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (_error) {
    return false;
  }
}

/** What a model directory's `generation_config.json` says, in the fields sampling uses. */
export interface GenerationConfig {
  /** `eos_token_id` as a list (HF allows a number or a list): generation stops on any of them. */
  readonly eosTokenIds: readonly number[];
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  /** The parsed file as it is. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/**
 * Read `dir/generation_config.json` when present.
 * @returns `undefined` when the file does not exist.
 * @throws Error naming the file when it is not a JSON object or `eos_token_id` is not an integer
 *   or a list of integers.
 */
export async function readGenerationConfig(dir: string): Promise<GenerationConfig | undefined> {
  const path = join(dir, GENERATION_CONFIG_FILE);
  if (!(await exists(path))) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`readGenerationConfig: ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`readGenerationConfig: ${path} must contain a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  const eos = o['eos_token_id'];
  const list = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!list.every((x) => Number.isInteger(x) && (x as number) >= 0)) {
    throw new Error(
      `readGenerationConfig: ${path}: field 'eos_token_id' must be a token id or a list of ids, got ${JSON.stringify(eos)}`,
    );
  }
  const num = (k: string): number | undefined =>
    typeof o[k] === 'number' ? (o[k] as number) : undefined;
  const t = num('temperature');
  const k = num('top_k');
  const p = num('top_p');
  return {
    eosTokenIds: list as number[],
    ...(t === undefined ? {} : { temperature: t }),
    ...(k === undefined ? {} : { topK: k }),
    ...(p === undefined ? {} : { topP: p }),
    raw: o,
  };
}

/** Options of {@link exportCausalLM}. */
export interface ExportOptions {
  /**
   * The directory the model was loaded from. Its `config.json` is written back with every
   * original field (only `torch_dtype` becomes `float32`, the dtype of the written weights) and
   * the files of {@link HF_AUXILIARY_FILES} are copied byte for byte. Without it, `config.json`
   * comes from `modelConfigToHf` and no tokenizer is written (use `savePretrainedFiles` to write
   * a tokenizer object).
   */
  readonly sourceDir?: string;
  /** Extra `__metadata__` entries of `model.safetensors` (`format: 'pt'` is always set). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Write `model` as a Hugging Face model directory that `loadCausalLM` and transformers load:
 * `model.safetensors` (F32, HF tensor names, one file even when the source was sharded),
 * `config.json` and, from `sourceDir`, the tokenizer and generation files. With LoRA adapters
 * attached, their merged weights `W + s·A·B` are written (a full model; save the adapters alone
 * with `saveLoraAdapter`). Loading the export gives the model's float32 weights bit for bit.
 *
 * @throws Error when `dir` is `sourceDir` (the source would be overwritten, and stale shards
 *   would remain), or when the source `config.json` does not describe `model.config` (a different
 *   architecture or shape).
 */
export async function exportCausalLM(
  model: CausalLM,
  dir: string,
  options: ExportOptions = {},
): Promise<{ readonly files: readonly string[] }> {
  const { sourceDir } = options;
  if (sourceDir !== undefined && resolve(sourceDir) === resolve(dir)) {
    throw new Error(
      `exportCausalLM: ${dir} is the source directory; export to a new directory instead`,
    );
  }
  const config: ModelConfig = model.config;
  let hfConfig: Record<string, unknown>;
  if (sourceDir !== undefined) {
    const path = join(sourceDir, 'config.json');
    const original = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    const decoded = modelConfigFromHf(original, { file: path });
    const { initStd: _a, ...a } = decoded;
    const { initStd: _b, ...b } = config;
    if (JSON.stringify(a, Object.keys(a).sort()) !== JSON.stringify(b, Object.keys(b).sort())) {
      throw new Error(
        `exportCausalLM: ${path} describes another model (${JSON.stringify(a)}) than the one exported (${JSON.stringify(b)})`,
      );
    }
    hfConfig = { ...original, torch_dtype: 'float32' };
  } else {
    hfConfig = modelConfigToHf(config);
  }
  const merged = model.mergedWeights();
  const canonical: Record<string, FloatTensorEntry> = {};
  try {
    for (const [name, t] of Object.entries(merged)) {
      canonical[name] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
    }
  } finally {
    tf.dispose(Object.values(merged));
  }
  const hf = canonicalToHf(canonical, config, { file: join(dir, 'model.safetensors') });
  await mkdir(dir, { recursive: true });
  const written = ['model.safetensors', 'config.json'];
  await writeFileAtomic(
    join(dir, 'model.safetensors'),
    serializeSafetensors(hf, { ...options.metadata, format: 'pt' }),
  );
  await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(hfConfig, null, 2)}\n`);
  if (sourceDir !== undefined) {
    for (const name of HF_AUXILIARY_FILES) {
      const from = join(sourceDir, name);
      if (await exists(from)) {
        await writeFileAtomic(join(dir, name), await readFile(from));
        written.push(name);
      }
    }
  }
  return { files: written };
}
