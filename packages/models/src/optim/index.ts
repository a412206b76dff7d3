export { createAdamW, decaysWeight } from './adamw.js';
export type { AdamW, AdamWOptions, AdamWState, NamedVariables } from './adamw.js';
export { clipByGlobalNorm } from './clip.js';
export { lrAt } from './schedule.js';
export type { LrSchedule } from './schedule.js';
export { computeGradients } from './gradients.js';
export type { HasVariables } from './gradients.js';
