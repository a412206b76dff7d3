import * as tf from '@tensorflow/tfjs';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import { describe, expect, it } from 'vitest';
import { disposeBatch, randomVerifreeBatch } from './testing/index.js';
import { verifreeLoss } from './verifree.js';

type M = number[][];

/** Float64 oracle: mean_i[−A_i·Σ_t ℓ_t − W_i·Σ_k ℓ^ans_k] over non-empty rows per term. */
function oracle(trace: M, tm: M, answer: M, am: M, adv: number[], weight: number[]): number {
  const term = (x: M, m: M, w: number[]) => {
    let s = 0,
      rows = 0;
    x.forEach((row, b) => {
      let r = 0,
        n = 0;
      row.forEach((l, t) => {
        if ((m[b]?.[t] ?? 0) > 0) {
          r += -(w[b] ?? NaN) * l;
          n += 1;
        }
      });
      if (n > 0) {
        s += r;
        rows += 1;
      }
    });
    return rows ? s / rows : 0;
  };
  return term(trace, tm, adv) + term(answer, am, weight);
}

describe('verifreeLoss', () => {
  it('matches the float64 oracle for every answer-term weight', () => {
    const batch = randomVerifreeBatch({ batchSize: 5, traceLength: 6, answerLength: 3, seed: 1 });
    const [trace, tm, answer, am] = [
      batch.traceLogProbs,
      batch.traceMask,
      batch.answerLogProbs,
      batch.answerMask,
    ].map((t) => t.arraySync() as M) as [M, M, M, M];
    const adv = batch.advantages.arraySync() as number[];
    const rewards = batch.rewards.arraySync() as number[];
    for (const [name, w] of [
      ['reward', rewards],
      ['adv', adv],
      ['1', adv.map(() => 1)],
    ] as const) {
      const { loss } = verifreeLoss({ ...batch, answerTermWeight: name });
      expect(loss.dataSync()[0]).toBeCloseTo(oracle(trace, tm, answer, am, adv, w), 4);
      loss.dispose();
    }
    disposeBatch(batch);
  });

  it('matches a hand-computed fixture and logs ratio 1 on-policy', () => {
    const trace = tf.tensor2d([
      [-1, -2],
      [-0.5, 0],
    ]);
    const batch = {
      traceLogProbs: trace,
      traceMask: tf.tensor2d([
        [1, 1],
        [1, 0],
      ]),
      answerLogProbs: tf.tensor2d([[Math.log(0.5)], [Math.log(0.25)]]),
      answerMask: tf.tensor2d([[1], [1]]),
      advantages: tf.tensor1d([0.5, -0.5]),
      rewards: tf.tensor1d([0.5, 0]),
      oldTraceLogProbs: trace,
    };
    const { loss, metrics } = verifreeLoss(batch);
    // pg: mean(−0.5·(−3), 0.5·(−0.5)) = mean(1.5, −0.25) = 0.625; answer: mean(−0.5·log 0.5, 0) = 0.1733
    expect(metrics['loss/pg']).toBeCloseTo(0.625, 6);
    expect(metrics['loss/answer']).toBeCloseTo((-0.5 * Math.log(0.5)) / 2, 6);
    expect(loss.dataSync()[0]).toBeCloseTo(0.625 - (0.5 * Math.log(0.5)) / 2, 6);
    expect(metrics['ratio/max']).toBe(1);
    expect(metrics['ratio/min']).toBe(1);
    expect(metrics['reward/zero_fraction']).toBe(0.5);
  });

  it('has the gradient of the oracle w.r.t. trace and answer log-probs', () => {
    const batch = randomVerifreeBatch({ batchSize: 3, traceLength: 3, answerLength: 2, seed: 2 });
    const [trace, tm, answer, am] = [
      batch.traceLogProbs,
      batch.traceMask,
      batch.answerLogProbs,
      batch.answerMask,
    ].map((t) => t.arraySync() as M) as [M, M, M, M];
    const adv = batch.advantages.arraySync() as number[];
    const rewards = batch.rewards.arraySync() as number[];
    const [gt, ga] = tf.tidy(() =>
      tf
        .grads(
          (x: tf.Tensor, y: tf.Tensor) =>
            verifreeLoss({ ...batch, traceLogProbs: x, answerLogProbs: y, computeMetrics: false })
              .loss,
        )([batch.traceLogProbs, batch.answerLogProbs])
        .map((g) => Array.from(g.dataSync())),
    );
    const rows = (x: readonly number[], c: number) =>
      Array.from({ length: 3 }, (_, r) => x.slice(r * c, (r + 1) * c));
    numericGradient((x) => oracle(rows(x, 3), tm, answer, am, adv, rewards), trace.flat()).forEach(
      (v, i) => expect(gt?.[i]).toBeCloseTo(v, 2),
    );
    numericGradient((y) => oracle(trace, tm, rows(y, 2), am, adv, rewards), answer.flat()).forEach(
      (v, i) => expect(ga?.[i]).toBeCloseTo(v, 2),
    );
    disposeBatch(batch);
  });

  it('accepts options as a second argument', () => {
    const batch = randomVerifreeBatch({ batchSize: 3, traceLength: 4, seed: 4 });
    const a = verifreeLoss({ ...batch, answerTermWeight: 'adv' });
    const b = verifreeLoss(batch, { answerTermWeight: 'adv' });
    expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
    expect(b.metrics).toEqual(a.metrics);
    disposeBatch(batch);
  });

  it('leaks no tensor and throws naming the function and the field or option', () => {
    const batch = randomVerifreeBatch({ batchSize: 2, traceLength: 3, seed: 3 });
    expect(leakedTensors(() => verifreeLoss(batch).loss)).toBe(0);
    expect(() => verifreeLoss({ ...batch, answerMask: tf.ones([2, 4]) })).toThrow(
      /^verifreeLoss: answerMask/,
    );
    expect(() => verifreeLoss({ ...batch, rewards: tf.tensor1d([NaN, 0]) })).toThrow(
      /^verifreeLoss: rewards/,
    );
    expect(() => verifreeLoss({ ...batch, answerTermWeight: 'x' as '1' })).toThrow(
      /^verifreeLoss: answerTermWeight 'x' is unknown/,
    );
    expect(() => verifreeLoss({ ...batch, aggregation: 'sum' as 'token-mean' })).toThrow(
      /^verifreeLoss: aggregation 'sum' is unknown/,
    );
    disposeBatch(batch);
  });
});
