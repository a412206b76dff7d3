import * as E from 'fp-ts/lib/Either.js';
import { abs } from './abs.js';
import { k1 } from './k1.js';
import { k2 } from './k2.js';
import { k3 } from './k3.js';
import { lowVarKl } from './low-var-kl.js';
import type { KlEstimator, KlEstimatorName } from './types.js';

/**
 * The built-in per-token estimators by name, frozen. Extend by spreading into a new record:
 * `const mine = { ...klEstimators, myKl } as const`.
 *
 * `compositeKl` takes different inputs (two contexts and the sampler flag) and is not here.
 */
export const klEstimators = Object.freeze({ k1, abs, k2, k3, lowVarKl }) satisfies Readonly<
  Record<KlEstimatorName, KlEstimator>
>;

/** The names of the built-in estimators, in registry order (for config schemas and CLIs). */
export const klEstimatorNames: readonly KlEstimatorName[] = Object.freeze(
  Object.keys(klEstimators) as KlEstimatorName[],
);

/**
 * Looks up an estimator by name in `registry` (default {@link klEstimators}).
 *
 * @param name - the estimator's key.
 * @param registry - any record of estimators, e.g. `{ ...klEstimators, myKl }`.
 * @returns `Right(estimator)`, or `Left(message)` naming `getKlEstimator` and listing the valid names.
 */
export function getKlEstimator<N extends string = KlEstimatorName>(
  name: string,
  registry: Readonly<Record<N, KlEstimator>> = klEstimators as unknown as Readonly<
    Record<N, KlEstimator>
  >,
): E.Either<string, KlEstimator> {
  if (typeof name === 'string' && Object.hasOwn(registry, name)) {
    return E.right(registry[name as N]);
  }
  return E.left(
    `getKlEstimator: name '${String(name)}' is unknown; valid names: ${Object.keys(registry).join(', ')}`,
  );
}
