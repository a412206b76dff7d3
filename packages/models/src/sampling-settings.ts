/**
 * The validated sampling settings shared by the host sampler (`generate.ts`) and its on-device
 * twin (`device-sampling.ts`): a leaf both import, so neither imports the other's types.
 */

/** Sampling settings after validation. */
export interface SamplingSettings {
  /** τ; 0 = greedy. */
  readonly temperature: number;
  /** 0 = off. */
  readonly topK: number;
  /** 1 = off. */
  readonly topP: number;
}
