/**
 * Which errors end a run as a result rather than as a bug: a divergence (a non-finite value from
 * the app or a library's input check) or a collapse. `compare` records such a run as failed, with
 * this reason, and goes on; any other error stops the comparison.
 */
import { CollapsedError } from './collapse.js';
import { toNonFiniteError } from './log.js';

/** The reason a run failed as a result, or undefined for an error that must stop everything. */
export function failureReason(error: unknown): string | undefined {
  if (error instanceof CollapsedError) return error.message;
  const step = (error as { step?: unknown } | undefined)?.step;
  return toNonFiniteError(error, typeof step === 'number' ? step : 0)?.message;
}
