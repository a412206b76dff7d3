import { left, right } from 'fp-ts/lib/Either.js';
import type { Either } from 'fp-ts/lib/Either.js';
import { assertArgsObject, assertString } from '@covrl/utils';
import { extractBoxed } from './extract-boxed.js';
import { normalizeAnswer } from './normalize-answer.js';
import { parseChoiceAnswer } from './parse-choice-answer.js';
import { parseNumericAnswer } from './parse-numeric-answer.js';
import { parseRationalAnswer } from './parse-rational-answer.js';

/** Arguments every verifier takes. */
export interface VerifierArgs {
  /** The model's answer (already extracted, e.g. by `extractAnswer`). */
  readonly predicted: string;
  /** The reference answer of the data record. */
  readonly reference: string;
  /** Relative tolerance for numeric comparison; default 1e-6 (methods.md §6), finite ≥ 0. */
  readonly tolerance?: number;
}

/** A rule verifier: true iff `predicted` is judged equal to `reference`. */
export type Verifier = (args: VerifierArgs) => boolean;

/** The names of {@link verifiers}. */
export type VerifierName = 'exact' | 'numeric' | 'fraction' | 'choice' | 'auto';

/** Default relative tolerance of numeric comparison (methods.md §6). */
export const defaultNumericTolerance = 1e-6;

/** `|a − b| ≤ tolerance·max(|a|, |b|)`: purely relative, so 0 equals only 0. */
function numbersClose(a: number | undefined, b: number | undefined, tolerance: number): boolean {
  if (a === undefined || b === undefined) return false;
  return a === b || Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b));
}

function checkedTolerance(name: string, tolerance: number | undefined): number {
  const t = tolerance ?? defaultNumericTolerance;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw new Error(`verifiers.${name}: tolerance must be a finite number ≥ 0, got ${String(t)}`);
  }
  return t;
}

/**
 * Wraps a rule so that bad arguments throw naming `verifiers.<name>` and the argument (rather
 * than a TypeError, or an error of a helper such as `normalizeAnswer`).
 */
function checked(name: VerifierName, rule: Verifier): Verifier {
  return (args) => {
    const fn = `verifiers.${name}`;
    assertArgsObject(fn, args);
    assertString(fn, 'predicted', args.predicted);
    assertString(fn, 'reference', args.reference);
    return rule(args);
  };
}

const exact: Verifier = checked(
  'exact',
  ({ predicted, reference }) => normalizeAnswer(predicted) === normalizeAnswer(reference),
);

const numeric: Verifier = checked('numeric', ({ predicted, reference, tolerance }) =>
  numbersClose(
    parseNumericAnswer(predicted),
    parseNumericAnswer(reference),
    checkedTolerance('numeric', tolerance),
  ),
);

const fraction: Verifier = checked('fraction', ({ predicted, reference, tolerance }) =>
  numbersClose(
    parseRationalAnswer(predicted),
    parseRationalAnswer(reference),
    checkedTolerance('fraction', tolerance),
  ),
);

const choice: Verifier = checked('choice', ({ predicted, reference }) => {
  const expected = parseChoiceAnswer(reference, { bareOnly: true });
  return expected !== undefined && parseChoiceAnswer(predicted) === expected;
});

const auto: Verifier = checked('auto', ({ predicted, reference, tolerance }) => {
  const t = checkedTolerance('auto', tolerance);
  // A boxed final answer inside the prediction is compared by its content too.
  const boxed = extractBoxed(predicted);
  const candidates = boxed === undefined ? [predicted] : [predicted, boxed];
  return candidates.some((p) => {
    const args = { predicted: p, reference, tolerance: t };
    return exact(args) || fraction(args) || choice(args);
  });
});

/**
 * Rule verifiers for evaluation and the verifier GRPO reference (methods.md §6), all with one
 * signature {@link Verifier}:
 * - `'exact'`: {@link normalizeAnswer} equality (trim, collapse whitespace, lower-case, strip a
 *   trailing period and surrounding `$`).
 * - `'numeric'`: both sides parse as plain numbers (`1,234`, `-0.5`, `1e-3`) and agree within the
 *   relative tolerance.
 * - `'fraction'`: both sides parse as a fraction or a number (`3/4`, `\frac{3}{4}`, `0.75`) and
 *   agree within the relative tolerance (a superset of `'numeric'`).
 * - `'choice'`: the reference is a bare letter A–J (`B`, `(B)`) and the prediction names the same
 *   letter (`B`, `(b)`, `b)`, `B. text`, `The answer is B`).
 * - `'auto'`: any of the above, also trying the content of a `\boxed{}` in the prediction.
 *
 * Every verifier throws `Error('verifiers.<name>: <argument> ...')` when its argument is not an
 * object, `predicted` or `reference` is not a string, or (`'numeric'`, `'fraction'`, `'auto'`)
 * `tolerance` is negative or not finite.
 */
export const verifiers: Readonly<Record<VerifierName, Verifier>> = Object.freeze({
  exact,
  numeric,
  fraction,
  choice,
  auto,
} satisfies Record<VerifierName, Verifier>);

/** Every verifier name, in registry order. */
export const verifierNames: readonly VerifierName[] = Object.freeze(
  Object.keys(verifiers) as VerifierName[],
);

/**
 * Looks a verifier up by name: `Right(verifier)` or `Left(message)` listing the valid names.
 */
export function getVerifier(name: string): Either<string, Verifier> {
  if (Object.prototype.hasOwnProperty.call(verifiers, name)) {
    return right(verifiers[name as VerifierName]);
  }
  return left(`getVerifier: unknown verifier '${name}'; valid names: ${verifierNames.join(', ')}`);
}
