/**
 * One-call loading of a Hugging Face-like model directory into a {@link CausalLM}.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { loadPretrainedFiles } from './formats/load-pretrained.js';
import type { PretrainedFiles } from './formats/load-pretrained.js';
import { recordToTensors } from './formats/safetensors.js';
import type { CharTokenizer } from './formats/tokenizer/char-tokenizer.js';
import type { HfTokenizer } from './formats/tokenizer/hf-tokenizer.js';
import { createCausalLM } from './model.js';
import type { CausalLM, CausalLMOptions } from './model.js';

/** Options of {@link loadCausalLM}: those of `createCausalLM` but the weights (from the files). */
export type LoadCausalLMOptions = Omit<CausalLMOptions, 'weights' | 'seed'> & {
  /** Passed to `createCausalLM` (unused: every weight comes from the directory). Default 0. */
  readonly seed?: number;
};

/** What {@link loadCausalLM} returns; the caller owns `model` (call `model.dispose()`). */
export interface LoadedCausalLM {
  readonly model: CausalLM;
  readonly tokenizer: CharTokenizer | HfTokenizer;
  readonly config: ModelConfig;
  /** Where everything came from (see {@link PretrainedFiles}). */
  readonly source: PretrainedFiles['source'];
}

/**
 * Load a directory laid out like a Hugging Face model repository (`config.json`,
 * `model.safetensors` or a sharded index, `tokenizer.json` or `covrl-char-tokenizer.json`) into
 * a ready model in one call: {@link loadPretrainedFiles} (config, F32/F16/BF16 weights mapped to
 * canonical names, tokenizer), `recordToTensors`, then `createCausalLM(config, { weights })`.
 * The intermediate tensors are disposed; only the model's variables stay allocated.
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
  const files = await loadPretrainedFiles(dir);
  const weights = recordToTensors({ record: files.weights });
  try {
    const { seed = 0, ...rest } = options;
    const model = createCausalLM(files.config, { ...rest, seed, weights });
    return { model, tokenizer: files.tokenizer, config: model.config, source: files.source };
  } catch (error) {
    throw new Error(`loadCausalLM: ${dir}: ${(error as Error).message}`);
  } finally {
    tf.dispose(Object.values(weights));
  }
}
