import * as E from 'fp-ts/lib/Either.js';
import type { AdvantageMethod, AdvantageMethodName } from './advantage-methods.js';
import { advantageMethods } from './advantage-methods.js';
import type { Aggregation, AggregationName } from './aggregations.js';
import { aggregations } from './aggregations.js';
import type { Surrogate, SurrogateName } from './surrogates.js';
import { surrogates } from './surrogates.js';

function lookup<F>(
  fn: string,
  name: string,
  registry: Readonly<Record<string, F>>,
): E.Either<string, F> {
  if (typeof name === 'string' && Object.hasOwn(registry, name)) {
    return E.right(registry[name] as F);
  }
  return E.left(
    `${fn}: name '${String(name)}' is unknown; valid names: ${Object.keys(registry).join(', ')}`,
  );
}

/**
 * Looks up an advantage method by name (default registry {@link advantageMethods}).
 * @returns `Right(method)` or `Left` naming `getAdvantageMethod` and listing the valid names.
 */
export function getAdvantageMethod<N extends string = AdvantageMethodName>(
  name: string,
  registry: Readonly<Record<N, AdvantageMethod>> = advantageMethods as Readonly<
    Record<string, AdvantageMethod>
  >,
): E.Either<string, AdvantageMethod> {
  return lookup('getAdvantageMethod', name, registry);
}

/**
 * Looks up a surrogate by name (default registry {@link surrogates}).
 * @returns `Right(surrogate)` or `Left` naming `getSurrogate` and listing the valid names.
 */
export function getSurrogate<N extends string = SurrogateName>(
  name: string,
  registry: Readonly<Record<N, Surrogate>> = surrogates as Readonly<Record<string, Surrogate>>,
): E.Either<string, Surrogate> {
  return lookup('getSurrogate', name, registry);
}

/**
 * Looks up an aggregation mode by name (default registry {@link aggregations}).
 * @returns `Right(aggregation)` or `Left` naming `getAggregation` and listing the valid names.
 */
export function getAggregation<N extends string = AggregationName>(
  name: string,
  registry: Readonly<Record<N, Aggregation>> = aggregations as Readonly<
    Record<string, Aggregation>
  >,
): E.Either<string, Aggregation> {
  return lookup('getAggregation', name, registry);
}

/** The names of the built-in advantage methods, in registry order (for config schemas and CLIs). */
export const advantageMethodNames: readonly AdvantageMethodName[] = Object.freeze(
  Object.keys(advantageMethods) as AdvantageMethodName[],
);

/** The names of the built-in surrogates, in registry order. */
export const surrogateNames: readonly SurrogateName[] = Object.freeze(
  Object.keys(surrogates) as SurrogateName[],
);

/** The names of the built-in aggregation modes, in registry order. */
export const aggregationNames: readonly AggregationName[] = Object.freeze(
  Object.keys(aggregations) as AggregationName[],
);
