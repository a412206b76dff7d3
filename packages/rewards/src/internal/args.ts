/**
 * Argument checks of this package's plain (non-tensor) inputs. Each failure throws
 * `Error('<functionName>: <argument> ...')`, as the contract requires of every invalid input.
 */

/** Throws unless `args` is an object (the one named-field argument every function takes). */
export function assertArgsObject(functionName: string, args: unknown): asserts args is object {
  if (typeof args !== 'object' || args === null) {
    throw new Error(
      `${functionName}: argument must be an object of named fields, got ${args === null ? 'null' : typeof args}`,
    );
  }
}

/** Throws unless `value` is a string. */
export function assertString(
  functionName: string,
  argument: string,
  value: unknown,
): asserts value is string {
  if (typeof value !== 'string') {
    throw new Error(
      `${functionName}: ${argument} must be a string, got ${value === null ? 'null' : typeof value}`,
    );
  }
}

/** Throws unless `value` is undefined or an object (an optional options argument). */
export function assertOptionsObject(functionName: string, argument: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new Error(
      `${functionName}: ${argument} must be an object, got ${value === null ? 'null' : typeof value}`,
    );
  }
}

/** A relative tolerance: a finite number ≥ 0 (or undefined for the default). */
export function assertTolerance(functionName: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    throw new Error(`${functionName}: tolerance must be a finite number ≥ 0, got ${String(value)}`);
  }
}
