export type {
  Family,
  FamilyName,
  GenerateOptions,
  TraceCheck,
  TraceOptions,
  WrittenTrace,
} from './define.js';
export { normaliseInteger, normaliseWord } from './define.js';
export { addition } from './addition.js';
export { linearEquation } from './linear-equation.js';
export { rate } from './rate.js';
export { deduction } from './deduction.js';
export { stringOps } from './string-ops.js';
export { ordering } from './ordering.js';
export { normalisePair, pairDiff, pairSum } from './pair-search.js';
export { FAMILY_NAMES, families, familyOf, generateSuite, getFamily } from './registry.js';
