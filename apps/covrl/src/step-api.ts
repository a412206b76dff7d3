/**
 * The pieces a script needs to run training steps without the trainer's run directory: config
 * decoding, the method registry, the task and its contexts, the base model, the runtime. Used by
 * `benchmarks/src/rl-step-bench.ts` (`covrl/step-api`); not a stable public API.
 */
export { decodeConfig } from './config/decode.js';
export type { Config } from './config/schema.js';
export { methods, METHODS } from './methods/index.js';
export type { Method } from './methods/index.js';
export { buildTask, ContextCache, stepData, tagsOf } from './task.js';
export { loadBase } from './model-io.js';
export { embeddedBaseDir } from './compare.js';
export { initRuntime } from './runtime.js';
export type { StepInput, StepOutput } from './train/common.js';
