/**
 * The errors every covrl library throws for a bad input. Each message starts with
 * `<function>: <argument>` so a caller sees which call and which argument was wrong, and says what
 * to pass instead.
 */

/** The name carried by every {@link NonFiniteInputError}, for checks across bundles/realms. */
export const NON_FINITE_INPUT_ERROR_NAME = 'NonFiniteInputError';

/**
 * Thrown by every library input check that finds NaN or ±Infinity in a tensor argument
 * (`covrlLoss`, `grpoLoss`, `rlprLoss`, `verifreeLoss`, `answerLikelihoodReward`, the KL
 * estimators, the advantages, …). A trainer catches it to record a diverged step as a failed run
 * rather than a crash.
 *
 * Recognise it with `instanceof NonFiniteInputError` (one class for all packages: they all import
 * it from `@covrl/utils`) or, across two installed copies, with {@link isNonFiniteInputError}
 * (`error.name === 'NonFiniteInputError'`).
 */
export class NonFiniteInputError extends Error {
  /** The library function whose input check failed, e.g. `'covrlLoss'`. */
  readonly fn: string;
  /** The argument holding the non-finite value, e.g. `'priorLogProbs'`. */
  readonly argument: string;

  /**
   * @param fn - the function that checked its input.
   * @param argument - the argument that holds NaN or ±Infinity.
   * @param detail - the rest of the message; defaults to the standard wording.
   */
  constructor(
    fn: string,
    argument: string,
    detail = 'contains NaN or ±Infinity; pass finite values',
  ) {
    super(`${fn}: ${argument} ${detail}`);
    this.fn = fn;
    this.argument = argument;
  }

  // A getter on the prototype, not an own field: `name` stays right for subclasses and is not
  // overwritten by the `Error` constructor.
  override get name(): string {
    return NON_FINITE_INPUT_ERROR_NAME;
  }
}

/**
 * True for a {@link NonFiniteInputError}, also one made by another copy of this package (checked
 * by `name`, with `fn` and `argument` strings present).
 */
export function isNonFiniteInputError(error: unknown): error is NonFiniteInputError {
  if (error instanceof NonFiniteInputError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; fn?: unknown; argument?: unknown };
  return (
    e.name === NON_FINITE_INPUT_ERROR_NAME &&
    typeof e.fn === 'string' &&
    typeof e.argument === 'string'
  );
}

/**
 * Throws `Error('<fn>: <argument> <problem>')`, the uniform message of every library input check.
 * `problem` should say what was wrong and what to pass instead.
 */
export function fail(fn: string, argument: string, problem: string): never {
  throw new Error(`${fn}: ${argument} ${problem}`);
}
