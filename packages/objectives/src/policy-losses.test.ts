import * as tf from '@tensorflow/tfjs';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grpoLoss } from './grpo.js';
import { rlprLoss } from './rlpr.js';
import { disposeBatch, randomPolicyBatch } from './testing/index.js';

type M = number[][];

/** Float64 oracle: token-mean PPO clip (0.2 / 0.27) − entropyCoef·H + klCoef·lowVarKl. */
function oracle(
  lp: M,
  old: M,
  mask: M,
  adv: number[],
  o: { entropy?: M; entropyCoef?: number; ref?: M; klCoef?: number },
) {
  let pg = 0,
    h = 0,
    kl = 0,
    n = 0;
  lp.forEach((row, b) =>
    row.forEach((l, t) => {
      if ((mask[b]?.[t] ?? 0) === 0) return;
      const rho = Math.exp(Math.min(20, Math.max(-20, l - (old[b]?.[t] ?? NaN))));
      const A = adv[b] ?? NaN;
      pg += Math.max(-A * rho, -A * Math.min(1.27, Math.max(0.8, rho)));
      h += o.entropy?.[b]?.[t] ?? 0;
      const u = Math.min(20, Math.max(-20, (o.ref?.[b]?.[t] ?? 0) - l));
      kl += Math.min(10, Math.exp(u) - u - 1);
      n += 1;
    }),
  );
  return (pg - (o.entropyCoef ?? 0) * h + (o.ref ? (o.klCoef ?? 0) * kl : 0)) / Math.max(n, 1);
}

describe('rlprLoss / grpoLoss', () => {
  it('match the float64 oracle (PPO clip 0.2 / 0.27, token-mean; entropy and lowVarKl terms)', () => {
    for (const seed of [1, 2, 3]) {
      const batch = randomPolicyBatch({ batchSize: 5, traceLength: 6, seed });
      const [lp, old, mask, entropy, ref] = [
        batch.responseLogProbs,
        batch.oldResponseLogProbs,
        batch.responseMask,
        batch.entropy,
        batch.refLogProbs,
      ].map((t) => t.arraySync() as M) as [M, M, M, M, M];
      const adv = batch.advantages.arraySync() as number[];
      const r = rlprLoss({ ...batch, entropyCoef: 0.01 }); // rlprLoss ignores refLogProbs
      expect(r.loss.dataSync()[0]).toBeCloseTo(
        oracle(lp, old, mask, adv, { entropy, entropyCoef: 0.01 }),
        4,
      );
      const g = grpoLoss({ ...batch, klCoef: 0.5 });
      expect(g.loss.dataSync()[0]).toBeCloseTo(
        oracle(lp, old, mask, adv, { entropy, entropyCoef: 0, ref, klCoef: 0.5 }),
        4,
      );
      expect(g.metrics['loss/kl']).toBeGreaterThan(0);
      tf.dispose([r.loss, g.loss]);
      disposeBatch(batch);
    }
  });

  it('matches a hand-computed fixture with clip metrics', () => {
    // Log-probs ≤ 0 (log p > 0 is refused), shifted by −1 on both sides: the same ratios.
    const batch = {
      responseLogProbs: tf.tensor2d([[Math.log(1.5) - 1, Math.log(0.5) - 1, -1, 0]]),
      oldResponseLogProbs: tf.fill([1, 4], -1),
      responseMask: tf.tensor2d([[1, 1, 1, 0]]),
      advantages: tf.tensor2d([[1, -1, 1, 1]]),
    };
    const { loss, metrics } = rlprLoss(batch);
    // token 0: A = 1, ρ = 1.5 → −1.27; token 1: A = −1, ρ = 0.5 → max(0.5, 0.8) = 0.8; token 2: −1
    expect(loss.dataSync()[0]).toBeCloseTo((-1.27 + 0.8 - 1) / 3, 5);
    expect(metrics['ratio/clip_fraction']).toBeCloseTo(2 / 3, 6);
    expect(metrics['ratio/clip_high_fraction']).toBeCloseTo(1 / 3, 6);
    expect(metrics['ratio/max']).toBeCloseTo(1.5, 5);
    expect(metrics['ratio/min']).toBeCloseTo(0.5, 5);
    expect(metrics['loss/pg']).toBeCloseTo(loss.dataSync()[0] ?? NaN, 6);
    expect(metrics['loss/kl']).toBeUndefined();
  });

  it('grpoLoss matches a hand-computed fixture with the lowVarKl term', () => {
    const logProbs = tf.tensor2d([[Math.log(0.5), Math.log(0.5)]]);
    const { loss, metrics } = grpoLoss({
      responseLogProbs: logProbs,
      oldResponseLogProbs: logProbs,
      responseMask: tf.tensor2d([[1, 1]]),
      advantages: tf.tensor1d([1]),
      refLogProbs: tf.tensor2d([[Math.log(0.25), Math.log(0.25)]]),
      klCoef: 0.1,
    });
    // ρ = 1 → pg = −1; d = log 2: lowVarKl = e^(−d) + d − 1 = 0.5 + ln 2 − 1 = 0.1931472
    const kl = 0.5 + Math.log(2) - 1;
    expect(metrics['loss/kl']).toBeCloseTo(kl, 6);
    expect(loss.dataSync()[0]).toBeCloseTo(-1 + 0.1 * kl, 6);
  });

  it('have the gradient of the oracle w.r.t. the new response log-probs', () => {
    const batch = randomPolicyBatch({ batchSize: 3, traceLength: 4, seed: 8 });
    const [lp, old, mask, ref] = [
      batch.responseLogProbs,
      batch.oldResponseLogProbs,
      batch.responseMask,
      batch.refLogProbs,
    ].map((t) => t.arraySync() as M) as [M, M, M, M];
    const adv = batch.advantages.arraySync() as number[];
    const grad = tf.tidy(() =>
      Array.from(
        tf
          .grad(
            (x: tf.Tensor) =>
              grpoLoss({
                ...batch,
                entropy: undefined as never,
                responseLogProbs: x,
                klCoef: 0.3,
                computeMetrics: false,
              }).loss,
          )(batch.responseLogProbs)
          .dataSync(),
      ),
    );
    const f = (x: readonly number[]) =>
      oracle([x.slice(0, 4), x.slice(4, 8), x.slice(8)], old, mask, adv, { ref, klCoef: 0.3 });
    numericGradient(f, lp.flat()).forEach((v, i) => expect(grad[i]).toBeCloseTo(v, 2));
    disposeBatch(batch);
  });

  it('ignore whatever sits at masked positions (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(NaN, Infinity, -Infinity, 9),
        (seed, junk) => {
          const batch = randomPolicyBatch({ batchSize: 3, traceLength: 5, seed });
          const junked = tf.tidy(() => {
            const fill = (t: tf.Tensor) =>
              tf.where(tf.equal(batch.responseMask, 0), tf.fill(t.shape, junk), t);
            return {
              ...batch,
              responseLogProbs: fill(batch.responseLogProbs),
              oldResponseLogProbs: fill(batch.oldResponseLogProbs),
              entropy: fill(batch.entropy),
              refLogProbs: fill(batch.refLogProbs),
            };
          });
          const a = grpoLoss({ ...batch, klCoef: 0.1, entropyCoef: 0.1 });
          const b = grpoLoss({ ...junked, klCoef: 0.1, entropyCoef: 0.1 });
          expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
          expect(b.metrics).toEqual(a.metrics);
          tf.dispose([a.loss, b.loss]);
          disposeBatch(junked);
          disposeBatch(batch);
        },
      ),
      { numRuns: 10 },
    );
  });

  it('leak no tensor, alone or inside tf.variableGrads', () => {
    const batch = randomPolicyBatch({ batchSize: 3, traceLength: 4, seed: 4 });
    expect(leakedTensors(() => rlprLoss(batch).loss)).toBe(0);
    expect(leakedTensors(() => grpoLoss({ ...batch, klCoef: 0.1 }).loss)).toBe(0);
    const v = tf.variable(batch.responseLogProbs);
    expect(
      leakedTensors(() => {
        const { value, grads } = tf.variableGrads(
          () => grpoLoss({ ...batch, responseLogProbs: v, klCoef: 0.1 }).loss,
          [v],
        );
        return [value, ...Object.values(grads)];
      }),
    ).toBe(0);
    v.dispose();
    disposeBatch(batch);
  });

  it('accept options as a second argument', () => {
    const batch = randomPolicyBatch({ batchSize: 3, traceLength: 4, seed: 6 });
    const pairs = [
      [rlprLoss({ ...batch, clipLow: 0.1 }), rlprLoss(batch, { clipLow: 0.1 })],
      [grpoLoss({ ...batch, klCoef: 0.2 }), grpoLoss(batch, { klCoef: 0.2 })],
    ] as const;
    for (const [a, b] of pairs) {
      expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
      expect(b.metrics).toEqual(a.metrics);
    }
    disposeBatch(batch);
  });

  it('throw naming the function and the field or option', () => {
    const batch = randomPolicyBatch({ batchSize: 2, traceLength: 3, seed: 5 });
    expect(() => rlprLoss({ ...batch, oldResponseLogProbs: tf.zeros([2, 4]) })).toThrow(
      /^rlprLoss: oldResponseLogProbs/,
    );
    expect(() => rlprLoss({ ...batch, advantages: tf.zeros([3]) })).toThrow(
      /^rlprLoss: advantages/,
    );
    expect(() => grpoLoss({ ...batch, refLogProbs: undefined as never, klCoef: 0.1 })).toThrow(
      /^grpoLoss: refLogProbs is required/,
    );
    expect(() => rlprLoss({ ...batch, entropy: undefined as never, entropyCoef: 0.1 })).toThrow(
      /^rlprLoss: entropy is required/,
    );
    expect(() => grpoLoss({ ...batch, klEstimator: 'k5' as 'k3', klCoef: 1 })).toThrow(
      /^grpoLoss: klEstimator 'k5' is unknown/,
    );
    expect(() => rlprLoss({ ...batch, clipHigh: -1 })).toThrow(/^rlprLoss: clipHigh/);
    expect(() => rlprLoss({ ...batch, responseMask: tf.fill([2, 3], -1) })).toThrow(
      /^rlprLoss: responseMask/,
    );
    disposeBatch(batch);
  });
});
