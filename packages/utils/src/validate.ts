/**
 * Input checks shared by the covrl libraries. Each throws `Error('<fn>: <argument> …')` (or a
 * {@link NonFiniteInputError} for NaN/±Infinity) so a caller sees which function and which argument
 * was wrong.
 *
 * Two ways to check tensor values:
 * - the `assert*` functions read back one boolean each (one reduction on the backend, no
 *   per-element JavaScript loop);
 * - an {@link InputChecks} batch collects any number of value checks and reads all their flags back
 *   in ONE device read (`run()`), or none when the caller passed `validate: false`.
 *
 * Empty tensors (size 0) hold no bad element, so every value check passes on them without touching
 * the backend: TF.js's `tf.all` of an empty tensor is `false`, which would report a bad value that
 * is not there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteInputError, fail } from './errors.js';

export { fail } from './errors.js';

/** The standard detail of a NaN/±Infinity failure. */
const NON_FINITE = 'contains NaN or ±Infinity; pass finite values';

/**
 * Asserts that `value` looks like a TF.js tensor (duck-typed, so any tfjs-core copy passes), is
 * not disposed and holds numbers (any numeric or bool dtype; a `string` tensor is refused here
 * with a named error rather than failing later inside a TF.js kernel with TF.js's own message).
 */
export function assertTensor(
  fn: string,
  argument: string,
  value: unknown,
): asserts value is tf.Tensor {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('shape' in value) ||
    !('dtype' in value) ||
    !Array.isArray((value as { shape: unknown }).shape)
  ) {
    fail(fn, argument, 'must be a tf.Tensor');
  }
  if ((value as tf.Tensor).isDisposed) fail(fn, argument, 'was already disposed');
  assertNumericDtype(fn, argument, value as tf.Tensor);
}

/**
 * Asserts `t` holds numbers: dtype `float32`, `int32`, `bool` (or `complex64` is refused too: no
 * covrl function takes complex values). A `string` tensor gets a named error.
 */
export function assertNumericDtype(fn: string, argument: string, t: tf.Tensor): void {
  const dtype = t.dtype as string;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    fail(fn, argument, `must hold numbers (float32, int32 or bool) but has dtype '${dtype}'`);
  }
}

/**
 * Asserts `value` is a tensor of the given rank, naming the expected shape in words
 * (`shapeText`, e.g. `'[B, T]'`). Duck-typed like {@link assertTensor}; the message hints at a
 * second tfjs-core copy, the usual reason a real tensor fails an `instanceof` elsewhere.
 */
export function assertTensorOfRank(
  fn: string,
  argument: string,
  value: unknown,
  rank: number,
  shapeText: string,
): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    fail(
      fn,
      argument,
      `must be a tf.Tensor of shape ${shapeText}, got ${typeof value}` +
        ' (if it is a tensor, check that one copy of @tensorflow/tfjs-core is installed)',
    );
  }
  if (value.isDisposed) fail(fn, argument, 'was already disposed');
  assertNumericDtype(fn, argument, value);
  if (value.rank !== rank) {
    fail(
      fn,
      argument,
      `must have shape ${shapeText} (rank ${rank}), got [${value.shape.join(', ')}]`,
    );
  }
}

/** Asserts `t` has the given rank. */
export function assertRank(fn: string, argument: string, t: tf.Tensor, rank: number): void {
  if (t.rank !== rank) {
    fail(fn, argument, `must have rank ${rank} but has shape [${t.shape.join(', ')}]`);
  }
}

/** True when two shapes are identical. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Asserts two tensors have identical shapes; the message names `argumentB` as the wrong one. */
export function assertSameShape(
  fn: string,
  argumentA: string,
  a: tf.Tensor,
  argumentB: string,
  b: tf.Tensor,
): void {
  if (!sameShape(a.shape, b.shape)) {
    fail(
      fn,
      argumentB,
      `has shape [${b.shape.join(', ')}] but must match ${argumentA} [${a.shape.join(', ')}]`,
    );
  }
}

/**
 * Asserts no element is NaN (`x != x` is true only for NaN, on every backend). Throws a
 * {@link NonFiniteInputError}; `detail` replaces the default wording.
 */
export function assertNoNaN(
  fn: string,
  argument: string,
  t: tf.Tensor,
  detail = 'contains NaN; pass finite values',
): void {
  if (t.size === 0) return;
  const bad = tf.tidy(() => tf.any(tf.notEqual(t, t)).dataSync()[0]);
  if (bad) throw new NonFiniteInputError(fn, argument, detail);
}

/**
 * Asserts every element is finite (neither NaN nor ±Infinity); throws a
 * {@link NonFiniteInputError}.
 */
export function assertFinite(fn: string, argument: string, t: tf.Tensor): void {
  if (t.size === 0) return;
  const ok = tf.tidy(() => tf.all(tf.less(tf.abs(t), Infinity)).dataSync()[0]);
  if (!ok) throw new NonFiniteInputError(fn, argument, NON_FINITE);
}

/** Asserts every element is exactly 0 or 1. */
export function assertBinary(fn: string, argument: string, t: tf.Tensor): void {
  if (t.size === 0) return;
  const ok = tf.tidy(() => tf.all(tf.logicalOr(tf.equal(t, 0), tf.equal(t, 1))).dataSync()[0]);
  if (!ok) fail(fn, argument, 'must hold only 0 and 1');
}

/** Asserts `x` is a finite number inside `[low, high]`. */
export function assertNumberIn(
  fn: string,
  argument: string,
  x: unknown,
  low: number,
  high: number,
): asserts x is number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < low || x > high) {
    fail(fn, argument, `must be a finite number in [${low}, ${high}], got ${String(x)}`);
  }
}

/**
 * The allowed values of a numeric option: `[min, max]`, or `[min, max)` with `maxExclusive`.
 * The libraries export one table of these per loss (e.g. `covrlLossRanges`) so an app can derive
 * its config checks from the same numbers.
 */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  /** True when `max` itself is not allowed (e.g. a PPO `clipLow` < 1). */
  readonly maxExclusive?: boolean;
}

/**
 * Returns `value` when it is a finite number inside `range`; else throws
 * `Error('<fn>: <argument> must be a … number in [min, max] (or [min, max)), got <value>')`.
 */
export function numberInRange(
  fn: string,
  argument: string,
  value: unknown,
  range: NumberRange,
): number {
  const { min, max, maxExclusive = false } = range;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    (maxExclusive ? value < max : value <= max);
  if (!ok) {
    fail(
      fn,
      argument,
      maxExclusive
        ? `must be a number in [${min}, ${max}), got ${String(value)}`
        : `must be a finite number in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value as number;
}

/** Asserts `x` is an integer `≥ low`. */
export function assertIntegerAtLeast(
  fn: string,
  argument: string,
  x: unknown,
  low: number,
): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < low) {
    fail(fn, argument, `must be an integer ≥ ${low}, got ${String(x)}`);
  }
}

/** Throws unless `value` is a finite number satisfying `ok`, naming the `requirement`. */
export function assertNumber(
  fn: string,
  argument: string,
  value: unknown,
  requirement: string,
  ok: (v: number) => boolean,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    fail(fn, argument, `must be ${requirement}, got ${String(value)}`);
  }
}

/** Throws unless `args` is an object (the one named-field argument every function takes). */
export function assertArgsObject(fn: string, args: unknown): asserts args is object {
  if (typeof args !== 'object' || args === null) {
    throw new Error(
      `${fn}: argument must be an object of named fields, got ${args === null ? 'null' : typeof args}`,
    );
  }
}

/** Throws unless `value` is a string. */
export function assertString(
  fn: string,
  argument: string,
  value: unknown,
): asserts value is string {
  if (typeof value !== 'string') {
    fail(fn, argument, `must be a string, got ${value === null ? 'null' : typeof value}`);
  }
}

/** Throws unless `value` is undefined or an object (an optional options argument). */
export function assertOptionsObject(fn: string, argument: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    fail(fn, argument, `must be an object, got ${value === null ? 'null' : typeof value}`);
  }
}

/**
 * `t` as `float32`: returned as is when it already is, else one `tf.cast` (int32 and bool masks
 * become 0/1 floats). Masks of every numeric or bool dtype are accepted by the losses this way,
 * cast once at the entry so every later op and metric read-back sees one dtype (TF.js's `stack` and
 * arithmetic refuse mixed dtypes). The caller owns a new tensor when `t` was cast (call it inside a
 * `tf.tidy`).
 */
export function asFloat32(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/**
 * How far above 0 a log-probability may be before {@link InputChecks.atMostZero} rejects it:
 * a float32 log-softmax `x − logsumexp(x)` can round a few ulps above 0 for the most likely token
 * (logits of magnitude ~100 have ulp ≈ 8e-6), and such a value is no input error. Logits or
 * probabilities passed by mistake are far above this.
 */
export const LOG_PROB_TOLERANCE = 1e-3;

/** What a failed batched check throws. */
type CheckKind = 'non-finite' | 'invalid';

interface PendingCheck {
  readonly argument: string;
  readonly detail: string;
  readonly kind: CheckKind;
  readonly bad: () => tf.Tensor;
}

/**
 * A batch of value checks on the inputs of one call, read back in ONE device read.
 *
 * Each `add*` call records a check (nothing runs yet); {@link InputChecks.run} builds one `bool`
 * flag per check, stacks them as `int32` and reads them back with a single `dataSync`, then throws
 * the error of the first failing check in the order they were added: a
 * {@link NonFiniteInputError} for the NaN/±Infinity checks, `Error('<fn>: <argument> …')` for the
 * others. With `enabled = false` (a caller's `validate: false`) `run` returns at once: no kernel,
 * no read-back, so the hot path of a trained loop pays nothing; shape and dtype checks, which need
 * no read-back, still run in the callers.
 *
 * One read instead of one per check matters on WebGL/WebGPU, where each read-back stalls the
 * pipeline; on every backend the flags are computed exactly as the individual `assert*` functions
 * compute them.
 */
export class InputChecks {
  private readonly pending: PendingCheck[] = [];

  /**
   * @param fn - the checking function's name, the prefix of every message.
   * @param enabled - false skips every value check (`validate: false`).
   */
  constructor(
    readonly fn: string,
    readonly enabled = true,
  ) {}

  /** Records: `t` holds no NaN or ±Infinity (where `where` > 0, when given). */
  finite(argument: string, t: tf.Tensor, where?: tf.Tensor, detail = NON_FINITE): this {
    return this.add(argument, detail, 'non-finite', t, () => {
      const bad = tf.logicalNot(tf.isFinite(asFloat32(t)));
      return where === undefined ? bad : tf.logicalAnd(bad, tf.greater(asFloat32(where), 0));
    });
  }

  /** Records: `t` holds no NaN (±∞ allowed; where `where` > 0, when given). */
  noNaN(argument: string, t: tf.Tensor, detail: string, where?: tf.Tensor): this {
    return this.add(argument, detail, 'non-finite', t, () => {
      const bad = tf.isNaN(asFloat32(t));
      return where === undefined ? bad : tf.logicalAnd(bad, tf.greater(asFloat32(where), 0));
    });
  }

  /** Records: every element of `t` is exactly 0 or 1. */
  binary(argument: string, t: tf.Tensor, detail = 'must hold only 0 and 1'): this {
    return this.add(argument, detail, 'invalid', t, () => {
      const v = asFloat32(t);
      return tf.logicalAnd(tf.notEqual(v, 0), tf.notEqual(v, 1));
    });
  }

  /** Records: `mask` holds finite values ≥ 0 (1 = real token, 0 = padding, fractions = weights). */
  mask(
    argument: string,
    mask: tf.Tensor,
    detail = 'must hold finite values ≥ 0 (1 = real token, 0 = padding)',
  ): this {
    return this.add(argument, detail, 'invalid', mask, () => {
      const m = asFloat32(mask);
      return tf.logicalNot(tf.logicalAnd(tf.greaterEqual(m, 0), tf.isFinite(m)));
    });
  }

  /**
   * Records: `t` (log-probabilities) holds no value above {@link LOG_PROB_TOLERANCE} (where
   * `where` > 0, when given); `log p > 0` means `p > 1`, a probability that does not exist
   * (logits or probabilities passed by mistake). NaN compares false here, so pair it with a NaN
   * check.
   */
  atMostZero(
    argument: string,
    t: tf.Tensor,
    where?: tf.Tensor,
    detail = 'holds values above 0; pass log-probabilities (≤ 0), not logits or probabilities',
  ): this {
    return this.add(argument, detail, 'invalid', t, () => {
      const bad = tf.greater(asFloat32(t), LOG_PROB_TOLERANCE);
      return where === undefined ? bad : tf.logicalAnd(bad, tf.greater(asFloat32(where), 0));
    });
  }

  /**
   * Records a custom check: `bad` builds a `bool` tensor (any shape) that is true where the input
   * is bad; `kind` picks the error class.
   */
  custom(
    argument: string,
    detail: string,
    bad: () => tf.Tensor,
    kind: CheckKind = 'invalid',
  ): this {
    this.pending.push({ argument, detail, kind, bad: () => tf.any(bad()) });
    return this;
  }

  private add(
    argument: string,
    detail: string,
    kind: CheckKind,
    t: tf.Tensor,
    bad: () => tf.Tensor,
  ): this {
    // Nothing to check in an empty tensor; a disabled batch records nothing.
    if (!this.enabled || t.size === 0) return this;
    this.pending.push({ argument, detail, kind, bad: () => tf.any(bad()) });
    return this;
  }

  /** The number of recorded checks (0 when disabled). */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Runs every recorded check with one device read and throws the first failure in the order the
   * checks were added; a no-op when disabled or empty. The batch is emptied either way.
   */
  run(): void {
    const checks = this.pending.splice(0);
    if (!this.enabled || checks.length === 0) return;
    const flags = tf.tidy(() =>
      tf.stack(checks.map((c) => tf.cast(tf.reshape(c.bad(), []), 'int32'))),
    );
    const values = flags.dataSync();
    flags.dispose();
    checks.forEach((c, i) => {
      if (values[i] === 0) return;
      if (c.kind === 'non-finite') throw new NonFiniteInputError(this.fn, c.argument, c.detail);
      fail(this.fn, c.argument, c.detail);
    });
  }
}
