/**
 * The standard metrics of every step, whatever the method: reward and advantage statistics, the
 * share of rows that contribute, compute accounting, and per-phase wall-clock timing.
 */

/** Mean of a number array (0 for an empty one). */
export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;

/** `rows.map(r => xs[r])`: the entries of a per-row array for some rows. */
export const pick = <T>(xs: readonly T[], rows: readonly number[]): T[] =>
  rows.map((r) => xs[r] as T);

/** Indices `i` where `test(x[i])` holds. */
export const rowsWhere = <T>(xs: readonly T[], test: (x: T) => boolean): number[] =>
  xs.flatMap((x, i) => (test(x) ? [i] : []));

/** Per-group statistics of rewards used by every method's metrics. */
export function rewardStats(rewards: readonly number[], groupSize: number): Record<string, number> {
  const m = mean(rewards);
  const variance = mean(rewards.map((r) => (r - m) * (r - m)));
  let zeroGroups = 0;
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    if (Math.max(...group) - Math.min(...group) < 1e-12) zeroGroups++;
  }
  return {
    'reward/mean': m,
    'reward/std': Math.sqrt(variance),
    'advantage/zero_group_fraction': zeroGroups / Math.max(1, rewards.length / groupSize),
  };
}

/**
 * The metrics every method logs from its rewards and advantages: {@link rewardStats}, the
 * advantages' population std (`sqrt(E[A²] − E[A]²)`), the share of rows that contribute
 * (`rollout/valid_fraction`, the trainer's collapse check reads it) and its complement
 * `reward/invalid_fraction`.
 */
export function standardStepMetrics(
  rows: {
    readonly rewards: readonly number[];
    readonly advantages: readonly number[];
    readonly valid: readonly number[];
  },
  groupSize: number,
): Record<string, number> {
  const { rewards, advantages, valid } = rows;
  return {
    ...rewardStats(rewards, groupSize),
    'reward/invalid_fraction': 1 - mean(valid),
    'rollout/valid_fraction': mean(valid),
    'advantage/std': Math.sqrt(mean(advantages.map((a) => a * a)) - mean(advantages) ** 2),
  };
}

/** Wall-clock seconds per named phase, summed over the phase's calls within one step. */
export class PhaseClock {
  private readonly seconds = new Map<string, number>();
  private readonly started = performance.now();

  /** Run `fn`, adding its wall time to `phase`. */
  time<T>(phase: string, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.add(phase, t0);
    }
  }

  /** {@link time} for an asynchronous phase. */
  async timeAsync<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, t0);
    }
  }

  private add(phase: string, t0: number): void {
    this.seconds.set(phase, (this.seconds.get(phase) ?? 0) + (performance.now() - t0) / 1000);
  }

  /** Seconds of `phase` so far (0 if it never ran). */
  of(phase: string): number {
    return this.seconds.get(phase) ?? 0;
  }

  /** `time/<phase>_s` per phase and `time/step_s` since the clock was made. */
  metrics(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [phase, s] of this.seconds) out[`time/${phase}_s`] = s;
    out['time/step_s'] = (performance.now() - this.started) / 1000;
    return out;
  }
}
