import { NonFiniteInputError, fail } from '@covrl/utils';

/** Options of RLPR's std filter (method specification §6). */
export interface StdFilterOptions {
  /** Keep a prompt iff `s_g ≥ beta·EMA`; default 0.5 (Qwen2.5-7B script; 0.9 Llama, 1.0 Gemma). */
  readonly beta?: number;
  /** EMA decay: `EMA ← decay·EMA + (1 − decay)·mean s_g`; default 0.99. */
  readonly decay?: number;
  /** First step whose mean std is recorded; default 6. */
  readonly emaStartStep?: number;
  /** First filtering step; the EMA starts there as the mean of the recorded values; default 11. */
  readonly filterStartStep?: number;
}

/** Immutable state of the std filter; create with {@link stdFilterInit}. */
export interface StdFilterState {
  readonly options: Readonly<Required<StdFilterOptions>>;
  /** Mean group std of each recorded step (steps `emaStartStep … filterStartStep − 1`). */
  readonly recorded: readonly number[];
  /** The EMA of the group std; `null` before `filterStartStep`. */
  readonly ema: number | null;
  /** The last step passed to {@link stdFilterStep}; 0 before the first. */
  readonly lastStep: number;
}

/** Input of {@link stdFilterKeep} and {@link stdFilterStep}. */
export interface StdFilterStepInput {
  /** The 1-based optimizer step. */
  readonly step: number;
  /** `s_g` of each candidate group: the std of its G final rewards (see `groupRewardStats`). */
  readonly groupStds: readonly number[];
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function validateInput(fn: string, state: StdFilterState, x: StdFilterStepInput): void {
  if (typeof state !== 'object' || state === null || typeof state.options !== 'object') {
    fail(fn, 'state', 'must come from stdFilterInit or a previous stdFilterStep');
  }
  if (typeof x !== 'object' || x === null) fail(fn, 'argument', 'must be an object');
  if (!Number.isInteger(x.step) || x.step < 1)
    fail(fn, 'step', `must be an integer ≥ 1, got ${String(x.step)}`);
  if (!Array.isArray(x.groupStds) || x.groupStds.some((s) => typeof s !== 'number' || s < 0)) {
    fail(fn, 'groupStds', 'must be an array of finite numbers ≥ 0');
  }
  // A NaN/±∞ std (a diverged reward) is the typed error a trainer records as a failed run.
  if (x.groupStds.some((s) => !Number.isFinite(s))) {
    throw new NonFiniteInputError(fn, 'groupStds', 'must be an array of finite numbers ≥ 0');
  }
}

/**
 * The defaults of {@link StdFilterOptions} (RLPR's Qwen2.5-7B script; method specification §6),
 * the one place they are stated. Ranges: `beta` ≥ 0, `decay` in [0, 1], integer start steps with
 * `1 ≤ emaStartStep ≤ filterStartStep`.
 */
export const stdFilterDefaults = Object.freeze({
  beta: 0.5,
  decay: 0.99,
  emaStartStep: 6,
  filterStartStep: 11,
} as const);

/**
 * Creates the state of RLPR's std filter with an EMA schedule.
 * @throws Error naming `stdFilterInit` and the option when `beta` < 0, `decay` ∉ [0, 1], or the
 *   start steps are not integers with `1 ≤ emaStartStep ≤ filterStartStep`.
 */
export function stdFilterInit(options: StdFilterOptions = {}): StdFilterState {
  const resolved = {
    beta: options.beta ?? stdFilterDefaults.beta,
    decay: options.decay ?? stdFilterDefaults.decay,
    emaStartStep: options.emaStartStep ?? stdFilterDefaults.emaStartStep,
    filterStartStep: options.filterStartStep ?? stdFilterDefaults.filterStartStep,
  };
  const fn = 'stdFilterInit';
  if (!Number.isFinite(resolved.beta) || resolved.beta < 0)
    fail(fn, 'beta', 'must be a finite number ≥ 0');
  if (!(resolved.decay >= 0 && resolved.decay <= 1)) fail(fn, 'decay', 'must be in [0, 1]');
  if (!Number.isInteger(resolved.emaStartStep) || resolved.emaStartStep < 1) {
    fail(fn, 'emaStartStep', 'must be an integer ≥ 1');
  }
  if (
    !Number.isInteger(resolved.filterStartStep) ||
    resolved.filterStartStep < resolved.emaStartStep
  ) {
    fail(fn, 'filterStartStep', 'must be an integer ≥ emaStartStep');
  }
  return Object.freeze({
    options: Object.freeze(resolved),
    recorded: Object.freeze([]),
    ema: null,
    lastStep: 0,
  });
}

/**
 * Which candidate groups the filter keeps at `step`, without advancing the state (use it per
 * generation round; call {@link stdFilterStep} once per step with all candidates).
 *
 * Before `filterStartStep` every group is kept. From it, a group is kept iff
 * `s_g ≥ beta·EMA`, where at `filterStartStep` the EMA is the mean of the recorded step means
 * (or, if none were recorded, the mean of this step's `groupStds`).
 *
 * @returns `keep[g]` per group and `threshold` (`beta·EMA`, or `null` when not filtering yet).
 */
export function stdFilterKeep(
  state: StdFilterState,
  x: StdFilterStepInput,
): { keep: boolean[]; threshold: number | null; emaStd: number | null } {
  validateInput('stdFilterKeep', state, x);
  const { beta, filterStartStep } = state.options;
  if (x.step < filterStartStep) {
    return { keep: x.groupStds.map(() => true), threshold: null, emaStd: null };
  }
  const ema = currentEma(state, x.groupStds);
  if (ema === null) return { keep: x.groupStds.map(() => true), threshold: null, emaStd: null };
  const threshold = beta * ema;
  return { keep: x.groupStds.map((s) => s >= threshold), threshold, emaStd: ema };
}

/** The EMA in force for filtering: the state's, or its initial value at the first filter step. */
function currentEma(state: StdFilterState, groupStds: readonly number[]): number | null {
  if (state.ema !== null) return state.ema;
  if (state.recorded.length > 0) return mean(state.recorded);
  return groupStds.length > 0 ? mean(groupStds) : null;
}

/**
 * One step of RLPR's std filter with EMA schedule, as a pure reducer (method specification §6,
 * RLPR arXiv 2506.18254 reference code):
 * 1. steps `< emaStartStep` (1–5): nothing; every group kept;
 * 2. `emaStartStep ≤ step < filterStartStep` (6–10): record `mean s_g`; every group kept;
 * 3. `step = filterStartStep` (11): `EMA ← mean of the recorded values`;
 * 4. `step ≥ filterStartStep`: keep group g iff `s_g ≥ beta·EMA`, then
 *    `EMA ← decay·EMA + (1 − decay)·mean s_g` over all candidate groups (filter first, then
 *    update: our ordering).
 *
 * @param state - from {@link stdFilterInit} or the previous call; never mutated.
 * @param x.step - 1-based step, strictly greater than the previous call's.
 * @param x.groupStds - `s_g` of every candidate group generated this step.
 * @returns The next state, `keep` per group, and `emaStd`: the EMA used for this step's
 *   threshold (`null` before `filterStartStep`; log it as `filter/ema_std`).
 * @throws Error naming `stdFilterStep` and the argument on a non-increasing step or invalid stds.
 */
export function stdFilterStep(
  state: StdFilterState,
  x: StdFilterStepInput,
): { state: StdFilterState; keep: boolean[]; emaStd: number | null } {
  validateInput('stdFilterStep', state, x);
  if (x.step <= state.lastStep) {
    fail('stdFilterStep', 'step', `must increase: got ${x.step} after ${state.lastStep}`);
  }
  const { decay, emaStartStep, filterStartStep } = state.options;
  const { keep, emaStd } = stdFilterKeep(state, x);
  let recorded = state.recorded;
  let ema = state.ema;
  if (x.step >= emaStartStep && x.step < filterStartStep && x.groupStds.length > 0) {
    recorded = Object.freeze([...recorded, mean(x.groupStds)]);
  } else if (x.step >= filterStartStep && emaStd !== null) {
    ema = x.groupStds.length > 0 ? decay * emaStd + (1 - decay) * mean(x.groupStds) : emaStd;
  }
  return {
    state: Object.freeze({ options: state.options, recorded, ema, lastStep: x.step }),
    keep,
    emaStd,
  };
}
