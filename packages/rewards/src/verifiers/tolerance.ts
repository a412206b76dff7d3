/**
 * Throws unless `value` is undefined (the default tolerance) or a finite number ≥ 0: the relative
 * tolerance of the numeric answer comparisons.
 */
export function assertTolerance(functionName: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    throw new Error(`${functionName}: tolerance must be a finite number ≥ 0, got ${String(value)}`);
  }
}
