/**
 * The optimizer side of a step, shared by every method: one clipped AdamW update of a loss
 * (with the non-finite guard before the weights change), the split of a rollout batch into
 * mini-batches of whole groups, and the merge of per-update metrics.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamW, CausalLM } from '@covrl/models';
import { clipByGlobalNorm } from '@covrl/models';
import type { Config } from '../config/schema.js';
import { assertFinite, NonFiniteError } from '../run/log.js';

/** What one update reads: the model, its optimizer, the learning rate and the clip norm. */
export interface UpdateInput {
  readonly model: CausalLM;
  readonly optimizer: AdamW;
  readonly lr: number;
  readonly config: Pick<Config, 'train'>;
  readonly step?: number;
}

/**
 * One optimizer update: gradients of `lossFn` with respect to every model variable, global-norm
 * clipping to `gradClip`, an AdamW step at `lr`. Returns the loss function's metrics plus
 * `grad/norm` (before clipping). Every intermediate tensor is disposed.
 *
 * The non-finite guard runs here, BEFORE the optimizer step: a NaN or Inf in any loss term or
 * reward of the loss's metrics, in the scalar loss itself (`loss`), or in the gradient norm
 * (`grad/norm`) throws {@link NonFiniteError} naming the term and `input.step`, and leaves the
 * weights and the optimizer state as this update found them: the bad update never reaches the
 * model. The guard is per update, not per step: with `train.miniBatches` > 1 the earlier
 * mini-batches of the failing step have already updated the in-memory weights and AdamW moments.
 * Those reach no checkpoint and no export only because the trainer aborts the run on the error
 * without saving; the newest checkpoint stays the one from before the failing step.
 */
export function applyUpdate(
  input: UpdateInput,
  lossFn: () => { loss: tf.Scalar; metrics: Record<string, number> },
): Record<string, number> {
  let metrics: Record<string, number> = {};
  const variables = [...input.model.variables().values()];
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    metrics = out.metrics;
    return out.loss;
  }, variables);
  const lossValue = value.dataSync()[0] ?? Number.NaN;
  value.dispose();
  const step = input.step ?? 0;
  const named: Record<string, tf.Tensor> = {};
  for (const [name, v] of input.model.variables()) {
    const g = grads[v.name];
    if (g !== undefined) named[name] = g;
  }
  let clipped: Record<string, tf.Tensor> = {};
  let norm = Number.NaN;
  try {
    assertFinite(metrics, step, ['loss/', 'reward/']);
    if (!Number.isFinite(lossValue)) throw new NonFiniteError('loss', step, lossValue);
    ({ grads: clipped, norm } = clipByGlobalNorm(named, input.config.train.gradClip));
    if (!Number.isFinite(norm)) throw new NonFiniteError('grad/norm', step, norm);
    input.optimizer.step(clipped, input.model.variables(), { lr: input.lr });
  } finally {
    tf.dispose(Object.values(grads));
    tf.dispose(Object.values(clipped));
  }
  return { ...metrics, 'grad/norm': norm };
}

/** Average per-mini-batch metrics: mean, except `…max` keys take the max and `…min` the min. */
export function mergeMetrics(parts: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = new Set(parts.flatMap((p) => Object.keys(p)));
  for (const key of keys) {
    const values = parts.map((p) => p[key]).filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    if (/max(_abs_log)?$/.test(key)) out[key] = Math.max(...values);
    else if (/min$/.test(key)) out[key] = Math.min(...values);
    else out[key] = values.reduce((a, b) => a + b, 0) / values.length;
  }
  return out;
}

/** Split `n` rows made of groups of `groupSize` into `parts` chunks of whole groups. */
export function miniBatchRows(n: number, groupSize: number, parts: number): number[][] {
  const groups = n / groupSize;
  const k = Math.max(1, Math.min(parts, groups));
  const out: number[][] = [];
  for (let i = 0; i < k; i++) {
    const g0 = Math.floor((i * groups) / k);
    const g1 = Math.floor(((i + 1) * groups) / k);
    const rows: number[] = [];
    for (let r = g0 * groupSize; r < g1 * groupSize; r++) rows.push(r);
    out.push(rows);
  }
  return out;
}
