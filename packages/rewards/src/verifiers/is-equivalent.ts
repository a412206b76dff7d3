import { assertOptionsObject, assertString } from '@covrl/utils';
import { assertTolerance } from './tolerance.js';
import { verifiers } from './verifiers.js';

/** Options of {@link isEquivalent}. */
export interface IsEquivalentOptions {
  /** Relative tolerance for numeric comparison; default 1e-6 (methods.md §6). */
  readonly tolerance?: number;
}

/**
 * True iff `predicted` matches `reference` under any rule (the `'auto'` verifier): normalised string
 * equality; numeric equality within a relative tolerance (`|a − b| ≤ tolerance·max(|a|, |b|)`;
 * integers, decimals, `1,234`, negatives, `1e-3`); fraction equality (`3/4` = `0.75` =
 * `\frac{3}{4}`); or multiple-choice letter equality (`B`, `(B)`, `b)`, `B. text`, `The answer is
 * B` against a reference `B`). A `\boxed{}` in `predicted` is also compared by its content.
 *
 * @throws Error naming `isEquivalent` and the argument when `predicted` or `reference` is not a
 *   string, `options` is not an object, or `tolerance` is negative or not finite.
 */
export function isEquivalent(
  predicted: string,
  reference: string,
  options: IsEquivalentOptions = {},
): boolean {
  assertString('isEquivalent', 'predicted', predicted);
  assertString('isEquivalent', 'reference', reference);
  assertOptionsObject('isEquivalent', 'options', options);
  // Checked here so the message names this function, not the `'auto'` verifier it delegates to.
  assertTolerance('isEquivalent', options.tolerance);
  return verifiers.auto(
    options.tolerance === undefined
      ? { predicted, reference }
      : { predicted, reference, tolerance: options.tolerance },
  );
}
