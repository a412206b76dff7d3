export { defaultModelConfig, validateModelConfig } from './config.js';
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
export * from './optim/index.js';
export * from './formats/index.js';
