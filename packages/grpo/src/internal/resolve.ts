import { fail } from './validate.js';

/**
 * Resolves a registry option given either as a name or as a function. A name missing from the
 * registry throws `Error('<fn>: <argument> ... valid names: ...')`.
 */
export function resolve<F>(
  fn: string,
  argument: string,
  value: string | F,
  registry: Readonly<Record<string, F>>,
): F {
  if (typeof value === 'function') return value;
  if (typeof value === 'string' && Object.hasOwn(registry, value)) {
    return registry[value] as F;
  }
  return fail(
    fn,
    argument,
    `'${String(value)}' is unknown; valid names: ${Object.keys(registry).join(', ')}`,
  );
}
