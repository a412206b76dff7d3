import { fail } from './errors.js';

/**
 * Resolves a registry option given either as a name or as a function: a function is returned as
 * is, a name is looked up as an own key of `registry` (so `'toString'` is no estimator). A name
 * missing from the registry throws `Error('<fn>: <argument> '<name>' is unknown; valid names: …')`,
 * listing the registry's keys so the caller can pick one.
 *
 * @param fn - the calling function's name, for the message.
 * @param argument - the option's name, for the message (e.g. `'options.klEstimator'`).
 * @param value - a registered name or a function of the registry's type.
 * @param registry - the frozen name → function table.
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
