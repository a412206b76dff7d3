/**
 * One-call loading of a Hugging Face-like model directory into a {@link CausalLM}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from './config.js';
import { readGenerationConfig } from './formats/export-pretrained.js';
import type { GenerationConfig } from './formats/export-pretrained.js';
import { modelConfigFromHf } from './formats/hf-config.js';
import { loadPretrainedFiles } from './formats/load-pretrained.js';
import type { PretrainedFiles } from './formats/load-pretrained.js';
import { recordToTensors } from './formats/safetensors.js';
import type { CharTokenizer } from './formats/tokenizer/char-tokenizer.js';
import type { HfTokenizer } from './formats/tokenizer/hf-tokenizer.js';
import { createCausalLM } from './model.js';
import type { CausalLM, CausalLMOptions } from './model.js';
import { checkMemoryFits, WASM_HEAP_LIMIT_BYTES } from './memory.js';
import type { MemoryEstimate, MemoryRequest } from './memory.js';

/** Options of {@link loadCausalLM}: those of `createCausalLM` but the weights (from the files). */
export type LoadCausalLMOptions = Omit<CausalLMOptions, 'weights' | 'seed'> & {
  /** Passed to `createCausalLM` (unused: every weight comes from the directory). Default 0. */
  readonly seed?: number;
  /**
   * The run the model is loaded for, checked by `checkMemoryFits` against `limitBytes` BEFORE
   * any weight is read (only `config.json`): a refusal with the numbers instead of an
   * out-of-memory error halfway. `recompute` defaults to `activationRecomputation`. Default: on
   * the wasm backend, inference at batch 1 × 1 token against the 4 GiB heap (the weights alone
   * must fit); elsewhere no check.
   */
  readonly memory?: MemoryRequest & { readonly limitBytes?: number };
};

/** What {@link loadCausalLM} returns; the caller owns `model` (call `model.dispose()`). */
export interface LoadedCausalLM {
  readonly model: CausalLM;
  readonly tokenizer: CharTokenizer | HfTokenizer;
  readonly config: ModelConfig;
  /** Where everything came from (see {@link PretrainedFiles}). */
  readonly source: PretrainedFiles['source'];
  /** `generation_config.json` when the directory has one (eos ids, sampling defaults). */
  readonly generationConfig: GenerationConfig | undefined;
  /** The estimate `options.memory` (or the default wasm check) was checked with, if any. */
  readonly memory: MemoryEstimate | undefined;
}

/**
 * Load a directory laid out like a Hugging Face model repository (`config.json`,
 * `model.safetensors` or a sharded index, `tokenizer.json` or `covrl-char-tokenizer.json`) into
 * a ready model in one call: {@link loadPretrainedFiles} (config, F32/F16/BF16 weights mapped to
 * canonical names, tokenizer), `recordToTensors`, then `createCausalLM(config, { weights })`.
 * The intermediate tensors are disposed; only the model's variables stay allocated. Before any
 * weight is read, the run described by `options.memory` is checked against the wasm heap
 * (`checkMemoryFits`); `generation_config.json` is read when present.
 *
 * @param dir - the model directory.
 * @param options - `matMulGradient`, `deviceSamplingMinVocab` as for `createCausalLM`.
 * @throws Error naming the file and the missing or invalid field or tensor (from
 *   `loadPretrainedFiles`, `modelConfigFromHf`, `hfToCanonical`), or, prefixed with
 *   `loadCausalLM: <dir>`, the weight or option `createCausalLM` rejects.
 */
export async function loadCausalLM(
  dir: string,
  options: LoadCausalLMOptions = {},
): Promise<LoadedCausalLM> {
  const { seed = 0, memory: memoryRequest, ...rest } = options;
  let memory: MemoryEstimate | undefined;
  const request =
    memoryRequest ??
    (tf.getBackend() === 'wasm'
      ? { mode: 'inference' as const, batch: 1, length: 1, limitBytes: WASM_HEAP_LIMIT_BYTES }
      : undefined);
  if (request !== undefined) {
    // Only config.json is read before the check.
    const configPath = join(dir, 'config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(configPath, 'utf8')) as unknown;
    } catch (error) {
      throw new Error(`loadCausalLM: cannot read ${configPath}: ${(error as Error).message}`);
    }
    const { limitBytes, ...req } = request;
    memory = checkMemoryFits(
      modelConfigFromHf(raw, { file: configPath }),
      { ...req, recompute: req.recompute ?? rest.activationRecomputation ?? false },
      { what: dir, ...(limitBytes === undefined ? {} : { limitBytes }) },
    );
  }
  const files = await loadPretrainedFiles(dir);
  const generationConfig = await readGenerationConfig(dir);
  const weights = recordToTensors({ record: files.weights });
  try {
    const model = createCausalLM(files.config, { ...rest, seed, weights });
    return {
      model,
      tokenizer: files.tokenizer,
      config: model.config,
      source: files.source,
      generationConfig,
      memory,
    };
  } catch (error) {
    throw new Error(`loadCausalLM: ${dir}: ${(error as Error).message}`);
  } finally {
    tf.dispose(Object.values(weights));
  }
}
