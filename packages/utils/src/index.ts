/**
 * The shared leaf of the covrl packages (browser-safe): the typed input errors, tensor input
 * checks (single and batched), registry option resolution, the stable two-component log-mixture
 * and the seeded mulberry32 generator. Node file I/O lives in `@covrl/utils/node`.
 *
 * @packageDocumentation
 */
export {
  NON_FINITE_INPUT_ERROR_NAME,
  NonFiniteInputError,
  fail,
  isNonFiniteInputError,
} from './errors.js';
export {
  InputChecks,
  LOG_PROB_TOLERANCE,
  asFloat32,
  assertArgsObject,
  assertBinary,
  assertFinite,
  assertIntegerAtLeast,
  assertNoNaN,
  assertNumber,
  assertNumberIn,
  assertNumericDtype,
  assertOptionsObject,
  assertRank,
  assertSameShape,
  assertString,
  assertTensor,
  assertTensorOfRank,
  numberInRange,
  sameShape,
} from './validate.js';
export type { NumberRange } from './validate.js';
export { resolve } from './resolve.js';
export { logMixture } from './log-mixture.js';
export { SeededRng, createRng, deriveSeed, mixSeed, mulberry32 } from './rng.js';
