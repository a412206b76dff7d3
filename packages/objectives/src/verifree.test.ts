import * as tf from '@tensorflow/tfjs';
import type { Surrogate, SurrogateInput } from '@covrl/grpo';
import { aggregations } from '@covrl/grpo';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import fc from 'fast-check';
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

  it("reproduces the unguarded −A·ℓ trace term bit for bit with the default 'reinforce' surrogate", () => {
    const batch = randomVerifreeBatch({ batchSize: 5, traceLength: 6, seed: 21 });
    const lossOf = (trace: tf.Tensor) => verifreeLoss({ ...batch, traceLogProbs: trace }).loss;
    // The loss before the surrogate registry: aggregate(−A·ℓ) with padding zeroed.
    const direct = (trace: tf.Tensor) =>
      tf.tidy(() => {
        const m = batch.traceMask;
        const l = tf.where(tf.greater(m, 0), trace, tf.zerosLike(trace));
        const pg = aggregations['seq-mean-token-sum']({
          loss: tf.neg(tf.mul(tf.expandDims(batch.advantages, 1), l)),
          mask: m,
        });
        const a = tf.where(tf.greater(batch.answerMask, 0), batch.answerLogProbs, tf.zeros([5, 3]));
        const ans = aggregations['seq-mean-token-sum']({
          loss: tf.neg(tf.mul(tf.expandDims(batch.rewards, 1), a)),
          mask: batch.answerMask,
        });
        return tf.add(pg, ans) as tf.Scalar;
      });
    expect(lossOf(batch.traceLogProbs).dataSync()[0]).toBe(
      direct(batch.traceLogProbs).dataSync()[0],
    );
    const [g1, g2] = [lossOf, direct].map((f) =>
      Array.from(
        tf
          .grad((x: tf.Tensor) => f(x))(batch.traceLogProbs)
          .dataSync(),
      ),
    );
    expect(g1).toEqual(g2);
    disposeBatch(batch);
  });

  it("swaps the trace surrogate: 'pg' has the same on-policy gradient, value −A per token", () => {
    const batch = randomVerifreeBatch({ batchSize: 4, traceLength: 5, seed: 22 });
    const { oldTraceLogProbs: _old, ...noOld } = batch;
    for (const b of [batch, noOld]) {
      // With or without oldTraceLogProbs (then ℓ_old = ℓ detached): ratio 1 with gradient ∇ℓ.
      const grad = (surrogate: 'reinforce' | 'pg') =>
        Array.from(
          tf
            .grad((x: tf.Tensor) => verifreeLoss({ ...b, traceLogProbs: x, surrogate }).loss)(
              b.traceLogProbs,
            )
            .dataSync(),
        );
      expect(grad('pg')).toEqual(grad('reinforce'));
      const { metrics } = verifreeLoss({ ...b, surrogate: 'pg' });
      const adv = b.advantages.arraySync() as number[];
      const lengths = (b.traceMask.arraySync() as number[][]).map((r) => r.reduce((s, m) => s + m));
      const want = adv.reduce((s, a, i) => s - a * (lengths[i] ?? NaN), 0) / adv.length;
      expect(metrics['loss/pg']).toBeCloseTo(want, 5);
    }
    disposeBatch(batch);
  });

  it("clips with 'ppo-clip' against oldTraceLogProbs and hands custom surrogates ℓ, the ratio and A", () => {
    const trace = tf.tensor2d([[Math.log(0.5), Math.log(0.2)]]);
    const old = tf.tensor2d([[Math.log(0.25), Math.log(0.2)]]); // ratio 2 on token 0, 1 on token 1
    const batch = {
      traceLogProbs: trace,
      traceMask: tf.ones([1, 2]),
      answerLogProbs: tf.zeros([1, 1]),
      answerMask: tf.zeros([1, 1]),
      advantages: tf.tensor1d([1.5]),
      rewards: tf.tensor1d([0.3]),
      oldTraceLogProbs: old,
    };
    const clipped = verifreeLoss({ ...batch, surrogate: 'ppo-clip', clipLow: 0.2, clipHigh: 0.3 });
    // token 0: max(−1.5·2, −1.5·1.3) = −1.95; token 1: −1.5; token sum per row
    expect(clipped.metrics['loss/pg']).toBeCloseTo(-1.95 - 1.5, 5);
    let seen: { logProbs: unknown; logRatio: unknown; clipLow: unknown } | undefined;
    const spy: Surrogate = (x: SurrogateInput) => {
      // The inputs are the loss's intermediates, disposed after it: read them here.
      seen = {
        logProbs: x.logProbs?.arraySync(),
        logRatio: x.logRatio.arraySync(),
        clipLow: x.clipLow,
      };
      return tf.tidy(() => tf.mul(tf.expandDims(x.advantages, 1), x.logRatio));
    };
    const custom = verifreeLoss({ ...batch, surrogate: spy, logRatioClamp: 0.5 });
    expect(seen?.logProbs).toEqual(trace.arraySync());
    expect(seen?.logRatio).toEqual([[0.5, 0]]); // log 2 clamped to 0.5
    expect(seen?.clipLow).toBe(0.2);
    expect(custom.metrics['loss/pg']).toBeCloseTo(1.5 * 0.5, 6);
    expect(custom.metrics['ratio/max']).toBeCloseTo(2, 6); // the logged ratio is not clamped
    expect(() => verifreeLoss({ ...batch, surrogate: 'ppo' as 'pg' })).toThrow(
      /^verifreeLoss: surrogate 'ppo' is unknown; valid names: ppo-clip, pg, reinforce/,
    );
    expect(() => verifreeLoss({ ...batch, clipLow: 1 })).toThrow(/^verifreeLoss: clipLow/);
    expect(() => verifreeLoss({ ...batch, logRatioClamp: 0 })).toThrow(
      /^verifreeLoss: logRatioClamp/,
    );
    tf.dispose([clipped.loss, custom.loss]);
    disposeBatch(batch);
  });

  it("builds the trace log-ratio only for a surrogate that reads it (not for 'reinforce')", async () => {
    const batch = randomVerifreeBatch({ batchSize: 4, traceLength: 5, seed: 24 });
    const { oldTraceLogProbs: _old, ...noOld } = batch;
    // The log-ratio is the loss's only ClipByValue; each NotEqual is a surrogate's NaN read-back
    // (validateFields checks finiteness with Abs/Less): 'reinforce' checks ℓ only, not logRatio.
    const kernels = async (b: object, surrogate: 'reinforce' | 'pg') => {
      const info = await tf.profile(() => verifreeLoss(b as typeof batch, { surrogate }).loss);
      tf.dispose(info.result);
      const count = (name: string) => info.kernelNames.filter((k) => k === name).length;
      return { clips: count('ClipByValue'), nanChecks: count('NotEqual') };
    };
    for (const b of [batch, noOld]) {
      // No NaN check inside: the batch was checked once up front (one read-back), so the surrogate
      // and the aggregation skip theirs.
      expect(await kernels(b, 'reinforce')).toEqual({ clips: 0, nanChecks: 0 });
      expect(await kernels(b, 'pg')).toEqual({ clips: 1, nanChecks: 0 });
    }
    // A surrogate reading logRatio twice, once inside a tidy of its own, gets one live tensor;
    // nothing leaks, and the values are the eager ones.
    const seen: tf.Tensor[] = [];
    const twice: Surrogate = (x) => {
      seen.length = 0;
      tf.tidy(() => {
        seen.push(x.logRatio);
      });
      seen.push(x.logRatio);
      expect(seen[0]?.isDisposed).toBe(false);
      return tf.tidy(() => tf.mul(tf.neg(tf.expandDims(x.advantages, 1)), tf.exp(x.logRatio)));
    };
    for (const b of [batch, noOld]) {
      expect(leakedTensors(() => verifreeLoss(b, { surrogate: twice }).loss)).toBe(0);
      expect(seen[0]).toBe(seen[1]);
      expect(seen[0]?.isDisposed).toBe(true);
      const a = verifreeLoss(b, { surrogate: twice });
      const want = verifreeLoss(b, { surrogate: 'pg' });
      expect(a.loss.dataSync()[0]).toBe(want.loss.dataSync()[0]);
      expect(a.metrics).toEqual(want.metrics);
      tf.dispose([a.loss, want.loss]);
    }
    disposeBatch(batch);
  });

  it('ignores whatever sits at masked positions, NaN and ±∞ included (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(NaN, Infinity, -Infinity, 50, -1e30),
        fc.constantFrom('reinforce', 'pg', 'ppo-clip'),
        fc.constantFrom('reward', 'adv', '1'),
        (seed, junk, surrogate, answerTermWeight) => {
          const batch = randomVerifreeBatch({
            batchSize: 4,
            traceLength: 5,
            answerLength: 3,
            seed,
          });
          const junked = tf.tidy(() => {
            const fill = (t: tf.Tensor, m: tf.Tensor) =>
              tf.where(tf.equal(m, 0), tf.fill(t.shape, junk), t);
            return {
              ...batch,
              traceLogProbs: fill(batch.traceLogProbs, batch.traceMask),
              oldTraceLogProbs: fill(batch.oldTraceLogProbs as tf.Tensor, batch.traceMask),
              answerLogProbs: fill(batch.answerLogProbs, batch.answerMask),
            };
          });
          const options = { surrogate, answerTermWeight } as const;
          const a = verifreeLoss(batch, options);
          const b = verifreeLoss(junked, options);
          expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
          expect(b.metrics).toEqual(a.metrics);
          const grad = (x: typeof batch) =>
            tf.grads(
              (t: tf.Tensor, y: tf.Tensor) =>
                verifreeLoss({ ...x, traceLogProbs: t, answerLogProbs: y }, options).loss,
            )([x.traceLogProbs, x.answerLogProbs]);
          const [ga, gb] = [grad(batch), grad(junked)];
          ga.forEach((g, i) =>
            expect(Array.from(gb[i]?.dataSync() ?? [])).toEqual(Array.from(g.dataSync())),
          );
          tf.dispose([a.loss, b.loss, ...ga, ...gb]);
          disposeBatch(junked);
          disposeBatch(batch);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('leaks no tensor inside tf.variableGrads, and only the loss is new', () => {
    const batch = randomVerifreeBatch({ batchSize: 4, traceLength: 3, seed: 23 });
    const trace = tf.variable(batch.traceLogProbs);
    const answer = tf.variable(batch.answerLogProbs);
    for (const surrogate of ['reinforce', 'pg', 'ppo-clip'] as const) {
      for (const withOld of [true, false]) {
        const { oldTraceLogProbs, ...rest } = batch;
        const x = withOld ? { ...rest, oldTraceLogProbs: oldTraceLogProbs as tf.Tensor } : rest;
        expect(
          leakedTensors(() => {
            const { value, grads } = tf.variableGrads(
              () =>
                verifreeLoss({ ...x, traceLogProbs: trace, answerLogProbs: answer, surrogate })
                  .loss,
              [trace, answer],
            );
            expect(Object.keys(grads)).toHaveLength(2);
            return [value, ...Object.values(grads)];
          }),
        ).toBe(0);
      }
    }
    tf.dispose([trace, answer]);
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
