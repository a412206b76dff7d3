/** The registry of synthetic families and suite generation. */
import * as E from 'fp-ts/lib/Either.js';
import type { Example } from '../schema.js';
import { addition } from './addition.js';
import { deduction } from './deduction.js';
import type { Family, FamilyName } from './define.js';
import { linearEquation } from './linear-equation.js';
import { ordering } from './ordering.js';
import { pairDiff, pairSum } from './pair-search.js';
import { rate } from './rate.js';
import { stringOps } from './string-ops.js';

/** Frozen registry of the built-in families by name. */
export const families = Object.freeze({
  addition,
  'linear-equation': linearEquation,
  rate,
  deduction,
  'string-ops': stringOps,
  ordering,
  'pair-sum': pairSum,
  'pair-diff': pairDiff,
} satisfies Record<FamilyName, Family>);

/** All family names in registry order (the original six, then `pair-sum` and `pair-diff`). */
export const FAMILY_NAMES = Object.freeze(Object.keys(families) as FamilyName[]);

/** Look up a family; the Left lists the valid names. */
export function getFamily(name: string): E.Either<string, Family> {
  return Object.hasOwn(families, name)
    ? E.right(families[name as FamilyName])
    : E.left(`unknown family "${name}"; valid families: ${FAMILY_NAMES.join(', ')}`);
}

/** The family that generated `example` (by its `family` field), or a Left. */
export function familyOf(example: Example): E.Either<string, Family> {
  return getFamily(example.family);
}

/**
 * `perFamily` examples of each family in `families`, concatenated in the order given; each
 * family's examples come from `family.generate({ seed, count: perFamily, difficulty, stream })`.
 * Throws on an unknown family name (listing the valid ones).
 */
export function generateSuite(options: {
  families: readonly string[];
  perFamily: number;
  seed: number;
  difficulty: number;
  stream?: string;
}): Example[] {
  return options.families.flatMap((name) => {
    const family = getFamily(name);
    if (E.isLeft(family)) throw new Error(`generateSuite: ${family.left}`);
    return family.right.generate({
      seed: options.seed,
      count: options.perFamily,
      difficulty: options.difficulty,
      ...(options.stream === undefined ? {} : { stream: options.stream }),
    });
  });
}
