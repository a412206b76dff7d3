import type { NumberRange } from '@covrl/utils';

/**
 * The ranges of the PPO-style options every loss here shares (`clipLow`, `clipHigh`,
 * `logRatioClamp`), spread into each loss's exported `*LossRanges` table.
 */
export const ppoRanges = Object.freeze({
  // 1 would allow a clipped ratio of 0.
  clipLow: { min: 0, max: 1, maxExclusive: true },
  clipHigh: { min: 0, max: Number.MAX_VALUE },
  // exp(80) ≈ 5.5e34 is still finite in float32; 0 would clamp every ratio to 1.
  logRatioClamp: { min: Number.MIN_VALUE, max: 80 },
} as const satisfies Record<string, NumberRange>);
