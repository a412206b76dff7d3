/** Learning-rate schedule kinds. */
export type LrSchedule = 'constant' | 'cosine';

/**
 * Learning rate at optimizer step `step` (0-based), as HF's
 * `get_constant_schedule_with_warmup` / `get_cosine_schedule_with_warmup` (with verl's
 * `min_lr_ratio` as an absolute `minLr`):
 * - warm-up, `step < warmupSteps`: `peak · step / warmupSteps` (so step 0 has lr 0);
 * - `'constant'`: `peak` afterwards;
 * - `'cosine'`: `minLr + (peak − minLr)·0.5·(1 + cos(π·p))`, `p = min(1, (step − warmupSteps) /
 *   max(1, totalSteps − warmupSteps))`.
 * @throws Error naming the bad argument.
 */
export function lrAt(
  step: number,
  {
    schedule,
    peak,
    warmupSteps = 0,
    totalSteps,
    minLr = 0,
  }: {
    schedule: LrSchedule;
    peak: number;
    warmupSteps?: number;
    totalSteps: number;
    minLr?: number;
  },
): number {
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`lrAt: step must be an integer ≥ 0, got ${step}`);
  if (!(peak >= 0)) throw new Error(`lrAt: peak must be ≥ 0, got ${peak}`);
  if (!(minLr >= 0 && minLr <= peak))
    throw new Error(`lrAt: minLr must be in [0, peak], got ${minLr}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new Error(`lrAt: warmupSteps must be an integer ≥ 0, got ${warmupSteps}`);
  }
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new Error(`lrAt: totalSteps must be an integer ≥ 1, got ${totalSteps}`);
  }
  if (schedule !== 'constant' && schedule !== 'cosine') {
    throw new Error(`lrAt: schedule must be 'constant' or 'cosine', got '${String(schedule)}'`);
  }
  if (step < warmupSteps) return (peak * step) / warmupSteps;
  if (schedule === 'constant') return peak;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
