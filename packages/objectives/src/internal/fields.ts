import * as tf from '@tensorflow/tfjs-core';
import { InputChecks, asFloat32, assertTensor, fail } from '@covrl/utils';

/** What a batch field must hold. */
export type FieldKind =
  /** log-probabilities: finite wherever `mask` > 0; anything (even NaN) at padding. */
  | 'logProbs'
  /** a mask: finite, ≥ 0 (1 real token, 0 padding). */
  | 'mask'
  /** a per-row flag: exactly 0 or 1. */
  | 'flag'
  /** finite everywhere. */
  | 'finite';

/** One batch field: its tensor, symbolic shape (e.g. `['B', 'T']`) and kind. */
export interface FieldSpec {
  readonly name: string;
  readonly value: unknown;
  readonly dims: readonly string[];
  readonly kind: FieldKind;
  /** For `'logProbs'`: the name of the mask field whose zeros mark padding. */
  readonly mask?: string;
  /** Skip when `value` is undefined. */
  readonly optional?: boolean;
  /**
   * For `'logProbs'`: reject values above 0 (default true; `log p > 0` is no log-probability).
   * False for fields checked like log-probs that are not (`entropy`).
   */
  readonly nonPositive?: boolean;
}

/**
 * Validates the fields of a loss's batch: tensors, consistent symbolic dimensions (the first
 * field fixes B, T, A), at least one row (B ≥ 1: a loss of no rollout is a caller's bug, and
 * metrics such as `reward/mean` have no value on it; T = 0 or A = 0 is fine, every term then
 * aggregates to 0), and their kind (log-probs finite and ≤ 0 at real tokens, masks finite ≥ 0,
 * flags 0/1, the rest finite). Tensors of any numeric or bool dtype pass; a string tensor gets a
 * named error. The value checks share one device read-back, skipped with `validate = false`; a
 * value check passes vacuously on an empty field. Throws `Error('<fn>: <field> ...')`, a
 * `NonFiniteInputError` for NaN/±Infinity.
 */
export function validateFields(fn: string, fields: readonly FieldSpec[], validate = true): void {
  const bound = new Map<string, { size: number; from: string }>();
  const byName = new Map<string, tf.Tensor>();
  for (const f of fields) {
    if (f.value === undefined && f.optional) continue;
    assertTensor(fn, f.name, f.value);
    const t = f.value;
    const want = `[${f.dims.join(', ')}]`;
    if (t.rank !== f.dims.length)
      fail(fn, f.name, `must have shape ${want} but has [${t.shape.join(', ')}]`);
    f.dims.forEach((d, i) => {
      const size = t.shape[i] ?? -1;
      const prior = bound.get(d);
      if (prior === undefined) bound.set(d, { size, from: f.name });
      else if (prior.size !== size) {
        fail(
          fn,
          f.name,
          `has shape [${t.shape.join(', ')}] but ${d} = ${prior.size} (from ${prior.from})`,
        );
      }
    });
    byName.set(f.name, t);
  }
  const rows = bound.get('B');
  if (rows !== undefined && rows.size === 0) {
    fail(fn, rows.from, 'has B = 0 rows; a scored batch needs at least one rollout');
  }
  // Every value check in ONE device read-back (or none with `validate: false`); NaN/±Infinity
  // throws a NonFiniteInputError naming the field.
  const checks = new InputChecks(fn, validate);
  for (const f of fields) {
    const t = byName.get(f.name);
    if (t === undefined) continue;
    switch (f.kind) {
      case 'finite':
        checks.finite(f.name, t);
        break;
      case 'mask':
        checks.mask(f.name, t);
        break;
      case 'flag':
        checks.binary(f.name, t);
        break;
      case 'logProbs': {
        const mask = f.mask === undefined ? undefined : byName.get(f.mask);
        const where = f.mask ? ` (where ${f.mask} > 0)` : '';
        checks.finite(f.name, t, mask, `contains NaN or ±Infinity at real tokens${where}`);
        if (f.nonPositive ?? true) {
          checks.atMostZero(
            f.name,
            t,
            mask,
            `holds values above 0 at real tokens${where}; pass log-probabilities (≤ 0), not logits or probabilities`,
          );
        }
        break;
      }
    }
  }
  checks.run();
}

/**
 * A shallow copy of `x` with every int32 or bool tensor field cast to float32 (masks, flags,
 * integer rewards), so the loss computes with one dtype: TF.js's arithmetic and `stack` refuse
 * mixed dtypes. Float32 fields are returned as they are (same tensor, same bits, same gradient).
 * Call inside the loss's `tf.tidy`, which disposes the casts.
 */
export function float32Fields<T extends object>(x: T): T {
  const out: Record<string, unknown> = { ...(x as Record<string, unknown>) };
  for (const [key, value] of Object.entries(x)) {
    if (value instanceof tf.Tensor && (value.dtype === 'int32' || value.dtype === 'bool')) {
      out[key] = asFloat32(value);
    }
  }
  return out as T;
}

/**
 * The one argument object of a loss: `{ ...batch, ...options }` (options may also sit in the
 * batch; the second argument wins where both set a key), after checking both are objects.
 */
export function mergeArgs<B extends object, O extends object>(
  fn: string,
  batch: B,
  options: O,
): B & O {
  if (typeof batch !== 'object' || batch === null)
    throw new Error(`${fn}: batch must be an object`);
  if (typeof options !== 'object' || options === null) {
    throw new Error(`${fn}: options must be an object`);
  }
  return { ...batch, ...options };
}
