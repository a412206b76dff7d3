/**
 * `@covrl/models/node`: the Node-only half of `@covrl/models`, everything that touches the file
 * system: model directories (`loadCausalLM`, `loadPretrainedFiles`, `savePretrainedFiles`),
 * safetensors files, tokenizer files and atomic writes. Models, formats on bytes and tokenizers
 * themselves are in the browser-safe main entry, `@covrl/models`.
 *
 * @packageDocumentation
 */
export { loadCausalLM } from './load-causal-lm.js';
export type { LoadCausalLMOptions, LoadedCausalLM } from './load-causal-lm.js';
export type { PretrainedFiles } from './formats/load-pretrained.js';
export {
  CONFIG_FILE,
  loadPretrainedFiles,
  savePretrainedFiles,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
} from './formats/load-pretrained.js';
export { readSafetensorsFile, writeSafetensorsFile } from './formats/safetensors-file.js';
export { readCharTokenizer, writeCharTokenizer } from './formats/tokenizer/char-tokenizer-file.js';
export { readHfTokenizer, writeHfTokenizer } from './formats/tokenizer/hf-tokenizer-file.js';
export { writeFileAtomic } from './formats/atomic-write.js';
export {
  exportCausalLM,
  GENERATION_CONFIG_FILE,
  HF_AUXILIARY_FILES,
  readGenerationConfig,
} from './formats/export-pretrained.js';
export type { ExportOptions, GenerationConfig } from './formats/export-pretrained.js';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  loadLoraAdapter,
  saveLoraAdapter,
} from './lora-io.js';
