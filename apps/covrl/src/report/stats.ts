/**
 * Small statistics for reports: means with confidence intervals over seeds, and the Wilson
 * interval for a single accuracy measured on n questions.
 */

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom (then the normal 1.96). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

export interface Interval {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly n: number;
}

/** Mean and 95 % t-interval of independent values (one per seed). With one value the interval is the point. */
export function meanInterval(values: readonly number[]): Interval {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, low: mean, high: mean, n };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  const half = t * Math.sqrt(variance / n);
  return { mean, low: mean - half, high: mean + half, n };
}

/** Wilson score 95 % interval for `successes` out of `trials`. */
export function wilsonInterval(successes: number, trials: number): Interval {
  if (trials === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, n: 0 };
  const z = 1.959964;
  const p = successes / trials;
  const denom = 1 + (z * z) / trials;
  const centre = (p + (z * z) / (2 * trials)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / denom;
  return { mean: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), n: trials };
}

/** Exponential moving average of a series, for smoothing noisy curves in plots. */
export function smooth(values: readonly number[], weight = 0.6): number[] {
  const out: number[] = [];
  let last: number | undefined;
  for (const v of values) {
    last = last === undefined || !Number.isFinite(last) ? v : weight * last + (1 - weight) * v;
    out.push(last);
  }
  return out;
}
