/**
 * Weight, config and tokenizer formats of `@covrl/models`: safetensors, Hugging Face configs and
 * parameter names, character and `tokenizer.json` tokenizers. Browser-safe: the file readers and
 * writers (safetensors files, tokenizer files, model directories) are in `@covrl/models/node`.
 *
 * @packageDocumentation
 */
export type { HfModelType } from './hf-config.js';
export { modelConfigFromHf, modelConfigToHf, SUPPORTED_HF_MODEL_TYPES } from './hf-config.js';
export type { AnyTensorEntry, FloatTensorEntry } from './hf-weights.js';
export { canonicalParameterShapes, canonicalToHf, hfToCanonical } from './hf-weights.js';
export type {
  SafetensorsDtype,
  SafetensorsFile,
  SafetensorsTensor,
  TensorRecordEntry,
} from './safetensors.js';
export {
  float16BitsToNumber,
  parseSafetensors,
  recordToTensors,
  SAFETENSORS_DTYPE_BYTES,
  serializeSafetensors,
  tensorsToRecord,
} from './safetensors.js';
export type { CharTokenizerJson, CharTokenizerOptions } from './tokenizer/char-tokenizer.js';
export { CHAR_TOKENIZER_FILE, CharTokenizer } from './tokenizer/char-tokenizer.js';
export type {
  HfTokenizerOptions,
  NativeHfTokenizer,
  NativeTokenizersModule,
} from './tokenizer/hf-tokenizer.js';
export {
  EOS_TOKEN_CANDIDATES,
  HF_TOKENIZER_CONFIG_FILE,
  HF_TOKENIZER_FILE,
  HfTokenizer,
  loadNativeTokenizers,
} from './tokenizer/hf-tokenizer.js';
export { float32ToBf16Bits, serializeSafetensorsBf16 } from './bf16.js';
