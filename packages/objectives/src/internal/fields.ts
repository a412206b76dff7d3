import * as tf from '@tensorflow/tfjs-core';
import { assertTensor, fail } from './validate.js';

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
}

/**
 * Validates the fields of a loss's batch: tensors, consistent symbolic dimensions (the first
 * field fixes B, T, A), at least one row (B ≥ 1: a loss of no rollout is a caller's bug, and
 * metrics such as `reward/mean` have no value on it; T = 0 or A = 0 is fine, every term then
 * aggregates to 0), and their kind. A value check passes vacuously on an empty field (TF.js's
 * `tf.all` of an empty tensor is `false`, which would report NaN that is not there). Throws
 * `Error('<fn>: <field> ...')`.
 */
export function validateFields(fn: string, fields: readonly FieldSpec[]): void {
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
  for (const f of fields) {
    const t = byName.get(f.name);
    if (t === undefined || t.size === 0) continue;
    const ok = tf.tidy(() => {
      switch (f.kind) {
        case 'finite':
          return tf.all(tf.less(tf.abs(t), Infinity)).dataSync()[0];
        case 'mask':
          return tf.all(tf.logicalAnd(tf.greaterEqual(t, 0), tf.less(t, Infinity))).dataSync()[0];
        case 'flag':
          return tf.all(tf.logicalOr(tf.equal(t, 0), tf.equal(t, 1))).dataSync()[0];
        case 'logProbs': {
          const mask = f.mask === undefined ? undefined : byName.get(f.mask);
          const finite = tf.less(tf.abs(t), Infinity);
          const checked = mask === undefined ? finite : tf.logicalOr(finite, tf.lessEqual(mask, 0));
          return tf.all(checked).dataSync()[0];
        }
      }
    });
    if (!ok) {
      const what: Record<FieldKind, string> = {
        finite: 'contains NaN or ±Infinity; pass finite values',
        mask: 'must hold finite values ≥ 0 (1 = real token, 0 = padding)',
        flag: 'must hold only 0 and 1',
        logProbs: `contains NaN or ±Infinity at real tokens${f.mask ? ` (where ${f.mask} > 0)` : ''}`,
      };
      fail(fn, f.name, what[f.kind]);
    }
  }
}

/** Options shared by the losses: a finite number in `[low, high]` or throw naming the option. */
export function option(
  fn: string,
  name: string,
  value: unknown,
  low: number,
  high: number,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < low || value > high) {
    fail(fn, name, `must be a finite number in [${low}, ${high}], got ${String(value)}`);
  }
  return value;
}

/** A PPO lower clip: a number in `[0, 1)` (1 would allow a clipped ratio of 0). */
export function clipLowOption(fn: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    fail(fn, 'clipLow', `must be a number in [0, 1), got ${String(value)}`);
  }
  return value;
}
