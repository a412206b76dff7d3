/**
 * Per-token KL estimators for TF.js: Schulman's k1/k2/k3, verl's `abs` and `low_var_kl`, a
 * straight-through combinator, and CoVRL's composite (Bregman) estimator of KL(p′‖p_φ).
 *
 * @packageDocumentation
 */
export type { KlEstimator, KlEstimatorInput, KlEstimatorName } from './types.js';
export { k1 } from './k1.js';
export { abs } from './abs.js';
export { k2 } from './k2.js';
export { k3 } from './k3.js';
export { lowVarKl } from './low-var-kl.js';
export { straightThrough } from './straight-through.js';
export { klEstimators, klEstimatorNames, getKlEstimator } from './registry.js';
export { compositeKl } from './composite-kl.js';
export type { CompositeKlInput } from './composite-kl.js';
export { compositeKlDefaults, compositeKlRanges } from './internal/composite-inputs.js';
export { compositeKlImportanceWeighted } from './composite-kl-importance-weighted.js';
