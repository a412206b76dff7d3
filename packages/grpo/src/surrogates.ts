import type * as tf from '@tensorflow/tfjs-core';
import { clippedSurrogate } from './clipped-surrogate.js';
import type { SurrogateInput } from './internal/surrogate-input.js';
import { policyGradientSurrogate } from './policy-gradient-surrogate.js';
import { reinforceSurrogate } from './reinforce-surrogate.js';

/** Names of the built-in surrogates in {@link surrogates}. */
export type SurrogateName = 'ppo-clip' | 'pg' | 'reinforce';

/**
 * A per-token policy loss `[B, T]` from log-ratios and advantages (and, for surrogates written
 * on log π itself, the new log-probs `logProbs`).
 */
export type Surrogate = (x: SurrogateInput) => tf.Tensor;

/**
 * The built-in surrogates by name, frozen: `'ppo-clip'` = `clippedSurrogate`, `'pg'` =
 * `policyGradientSurrogate` (`−A·ρ`), `'reinforce'` = `reinforceSurrogate` (`−A·log π_new`,
 * needs `logProbs`). Extend by spreading into a new record.
 */
export const surrogates = Object.freeze({
  'ppo-clip': clippedSurrogate,
  pg: policyGradientSurrogate,
  reinforce: reinforceSurrogate,
}) satisfies Readonly<Record<SurrogateName, Surrogate>>;
