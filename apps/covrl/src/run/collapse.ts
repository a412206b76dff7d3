/**
 * The collapse watch: a run whose rollouts stop contributing still logs finite numbers (reward 0,
 * loss 0, `grad/norm` 0) and would otherwise exit 0 and export a 0 %-accuracy model as a
 * success. A step is *collapsed* when
 *
 * - `rollout/valid_fraction` is 0 (every row invalid, truncated or malformed: no row carries a
 *   learning signal), or, for logs without it, `reward/invalid_fraction` is 1; or
 * - `grad/norm` is 0 while the learning rate `train/lr` is above 0 (the update cannot move the
 *   weights).
 *
 * After {@link COLLAPSE_WARN_AFTER} consecutive collapsed steps the trainer logs a `collapse`
 * warning event and prints it; after `train.collapsePatience` consecutive collapsed steps it
 * stops the run with {@link CollapsedError}: a `collapsed` event naming the steps, no export, and
 * in `compare` a failed run. The streak is a pure function of the logged step metrics, so a
 * resumed run rebuilds it from `metrics.jsonl` and stops at the same step as an uninterrupted one.
 */

/** Consecutive collapsed steps before the warning event (at most the patience). */
export const COLLAPSE_WARN_AFTER = 2;

/** Why a step counts as collapsed, or undefined when it does not. */
export function collapseReason(metrics: Readonly<Record<string, number>>): string | undefined {
  const valid = metrics['rollout/valid_fraction'];
  const invalid = metrics['reward/invalid_fraction'];
  if (valid === 0 || (valid === undefined && invalid === 1)) {
    return 'no rollout contributes (every row invalid, truncated or malformed: rollout/valid_fraction 0)';
  }
  const norm = metrics['grad/norm'];
  const lr = metrics['train/lr'];
  if (norm === 0 && lr !== undefined && lr > 0) {
    return `zero gradient (grad/norm 0 at train/lr ${lr})`;
  }
  return undefined;
}

/** Thrown when a run stays collapsed for `train.collapsePatience` consecutive steps. */
export class CollapsedError extends Error {
  constructor(
    readonly step: number,
    readonly streak: number,
    readonly reason: string,
  ) {
    super(
      `collapsed: ${streak} consecutive steps through step ${step} with ${reason}; stopping without export ` +
        '(lower train.lr, or raise train.collapsePatience to let it run on)',
    );
    this.name = 'CollapsedError';
  }
}

/** What one observed step means for the run. */
export type CollapseVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'warn'; readonly message: string }
  | { readonly kind: 'stop'; readonly error: CollapsedError };

/** Counts consecutive collapsed steps (see the module comment). */
export class CollapseWatch {
  private streak = 0;
  private warned = false;

  /** @param patience `train.collapsePatience` (≥ 1): consecutive collapsed steps that stop a run. */
  constructor(private readonly patience: number) {
    if (!Number.isInteger(patience) || patience < 1) {
      throw new Error(`CollapseWatch: patience must be an integer ≥ 1, got ${patience}`);
    }
  }

  /** Consecutive collapsed steps so far. */
  get current(): number {
    return this.streak;
  }

  /** Feed one step's metrics; returns whether to warn or to stop now. */
  observe(step: number, metrics: Readonly<Record<string, number>>): CollapseVerdict {
    const reason = collapseReason(metrics);
    if (reason === undefined) {
      this.streak = 0;
      this.warned = false;
      return { kind: 'ok' };
    }
    this.streak++;
    if (this.streak >= this.patience) {
      return { kind: 'stop', error: new CollapsedError(step, this.streak, reason) };
    }
    if (!this.warned && this.streak >= Math.min(COLLAPSE_WARN_AFTER, this.patience)) {
      this.warned = true;
      return {
        kind: 'warn',
        message:
          `warning: training looks collapsed: ${this.streak} consecutive steps through step ${step} with ${reason}; ` +
          `the run stops after ${this.patience} (train.collapsePatience)`,
      };
    }
    return { kind: 'ok' };
  }
}
