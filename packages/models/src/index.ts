export { defaultModelConfig, headDimOf, validateModelConfig } from './config.js';
export type { ModelConfig, ModelFamily } from './config.js';
export { CausalLM, createCausalLM, validateWeights } from './model.js';
export type { CausalLMOptions, LogitsRequest } from './model.js';
export { initWeights, parameterShapes } from './init.js';
export { createRng } from './rng.js';
export type { Rng } from './rng.js';
export type { MatMulGradientMode } from './layers.js';
export { sampleFromLogProbs, sampleRows } from './generate.js';
export {
  DEVICE_SAMPLING_MIN_VOCAB,
  sampleOnDevice,
  TOP_P_RELATIVE_SLACK,
} from './device-sampling.js';
export type { SamplingSettings } from './generate.js';
export {
  LoraAdapters,
  loraConfigFromPeft,
  loraConfigToPeft,
  loraModules,
  loraScale,
  PEFT_PREFIX,
  selectLoraModules,
  validateLoraConfig,
} from './lora.js';
export type { LoraConfig, LoraModule } from './lora.js';
export { chunkedTargetLogProbs, LOGITS_CHUNK_ELEMENTS } from './chunked-logits.js';
export {
  checkMemoryFits,
  estimateMemory,
  formatMemoryEstimate,
  WASM_HEAP_LIMIT_BYTES,
} from './memory.js';
export type { MemoryEstimate, MemoryRequest } from './memory.js';
export * from './optim/index.js';
export * from './formats/index.js';
