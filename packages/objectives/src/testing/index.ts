/**
 * Seeded random batches for the method losses, for tests of trainers and of the losses
 * themselves: right-padded masks, log-probs in `[−4, 0)`, 0/1 flags, advantages with groups.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CovrlBatch } from '../covrl.js';
import type { PolicyBatch } from '../internal/ppo-loss.js';
import type { VerifreeBatch } from '../verifree.js';

/** A seeded uniform RNG on [0, 1) (`@covrl/utils`' mulberry32). */
export { mulberry32 } from '@covrl/utils';
import { mulberry32 } from '@covrl/utils';

/** Shape of a random batch: B rows, T trace positions, A answer positions. */
export interface BatchShape {
  readonly batchSize: number;
  readonly traceLength: number;
  readonly answerLength?: number;
  readonly seed: number;
}

function maker(seed: number) {
  const rng = mulberry32(seed);
  const matrix = (rows: number, cols: number, f: () => number): number[][] =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, f));
  return {
    rng,
    logProbs: (rows: number, cols: number) =>
      tf.tensor2d(matrix(rows, cols, () => -4 * rng() - 0.01)),
    near: (base: tf.Tensor, scale: number) =>
      tf.tidy(() =>
        tf.minimum(
          tf.add(
            base,
            tf.tensor(
              Float32Array.from({ length: base.size }, () => scale * (rng() - 0.5)),
              base.shape,
            ),
          ),
          -1e-3,
        ),
      ),
    mask: (rows: number, cols: number) =>
      tf.tensor2d(
        Array.from({ length: rows }, () => {
          const n = 1 + Math.floor(rng() * cols);
          return Array.from({ length: cols }, (_, t) => (t < n ? 1 : 0));
        }),
      ),
    flags: (rows: number, p: number) =>
      tf.tensor1d(Array.from({ length: rows }, () => (rng() < p ? 1 : 0))),
    normal: (rows: number) => tf.tensor1d(Array.from({ length: rows }, () => 2 * rng() - 1)),
  };
}

/** A seeded {@link CovrlBatch}; old log-probs are within ±0.1 of the new ones. */
export function randomCovrlBatch(x: BatchShape): CovrlBatch {
  const m = maker(x.seed);
  const b = x.batchSize;
  const priorLogProbs = m.logProbs(b, x.traceLength);
  const posteriorLogProbs = m.logProbs(b, x.traceLength);
  return {
    priorLogProbs,
    posteriorLogProbs,
    oldPriorLogProbs: m.near(priorLogProbs, 0.2),
    oldPosteriorLogProbs: m.near(posteriorLogProbs, 0.2),
    traceMask: m.mask(b, x.traceLength),
    answerLogProbs: m.logProbs(b, x.answerLength ?? 3),
    answerMask: m.mask(b, x.answerLength ?? 3),
    advantages: m.normal(b),
    rewards: m.normal(b),
    sampledFromPrior: m.flags(b, 0.5),
    truncated: m.flags(b, 0.2),
    wellFormed: m.flags(b, 0.8),
  };
}

/** A seeded batch for `rlprLoss` / `grpoLoss` (with `refLogProbs` and `entropy`). */
export function randomPolicyBatch(
  x: BatchShape,
): PolicyBatch & { refLogProbs: tf.Tensor; entropy: tf.Tensor } {
  const m = maker(x.seed);
  const b = x.batchSize;
  const responseLogProbs = m.logProbs(b, x.traceLength);
  return {
    responseLogProbs,
    oldResponseLogProbs: m.near(responseLogProbs, 0.6),
    responseMask: m.mask(b, x.traceLength),
    advantages: m.normal(b),
    rewards: m.normal(b),
    entropy: tf.tidy(() => tf.abs(m.logProbs(b, x.traceLength))),
    refLogProbs: m.near(responseLogProbs, 0.6),
  };
}

/** A seeded {@link VerifreeBatch} (with `oldTraceLogProbs` equal to the trace log-probs). */
export function randomVerifreeBatch(x: BatchShape): VerifreeBatch {
  const m = maker(x.seed);
  const b = x.batchSize;
  const traceLogProbs = m.logProbs(b, x.traceLength);
  return {
    traceLogProbs,
    traceMask: m.mask(b, x.traceLength),
    answerLogProbs: m.logProbs(b, x.answerLength ?? 3),
    answerMask: m.mask(b, x.answerLength ?? 3),
    advantages: m.normal(b),
    rewards: tf.tidy(() => tf.abs(m.normal(b))),
    oldTraceLogProbs: tf.clone(traceLogProbs),
  };
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: object): void {
  tf.dispose(
    Object.values(batch).filter(
      (v): v is tf.Tensor => typeof v === 'object' && v !== null && 'dispose' in v,
    ),
  );
}
