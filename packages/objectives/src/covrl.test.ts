import * as tf from '@tensorflow/tfjs';
import { compositeKl, klEstimatorNames } from '@covrl/kl-estimators';
import type { KlEstimator } from '@covrl/kl-estimators';
import { leakedTensors, numericGradient } from '@covrl/kl-estimators/testing';
import type { Aggregation, Surrogate } from '@covrl/grpo';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { covrlImportanceLogRatio } from './covrl-importance-log-ratio.js';
import { covrlLoss } from './covrl.js';
import type { CovrlBatch } from './covrl.js';
import { disposeBatch, randomCovrlBatch } from './testing/index.js';

type M = number[][];
interface Arrays {
  prior: M;
  posterior: M;
  oldPrior: M;
  oldPosterior: M;
  traceMask: M;
  answer: M;
  answerMask: M;
  adv: number[];
  fromPrior: number[];
  truncated: number[];
  wellFormed: number[];
}

function arrays(b: CovrlBatch): Arrays {
  const m = (t: tf.Tensor) => t.arraySync() as M;
  const v = (t: tf.Tensor) => t.arraySync() as number[];
  return {
    prior: m(b.priorLogProbs),
    posterior: m(b.posteriorLogProbs),
    oldPrior: m(b.oldPriorLogProbs),
    oldPosterior: m(b.oldPosteriorLogProbs),
    traceMask: m(b.traceMask),
    answer: m(b.answerLogProbs),
    answerMask: m(b.answerMask),
    adv: v(b.advantages),
    fromPrior: v(b.sampledFromPrior),
    truncated: v(b.truncated),
    wellFormed: v(b.wellFormed),
  };
}

/** Float64 naive-loop oracle of the whole CoVRL loss (token-mean everywhere, ppo-clip, composite KL). */
function oracle(a: Arrays, o = { alpha: 0.5, w: 0.5, lo: 0.3, hi: 0.3, klCoef: 1, nllCoef: 1 }) {
  const mix = (x: number, y: number, w: number) =>
    Math.log(w * Math.exp(x) + (1 - w) * Math.exp(y));
  const clip = (x: number, l: number, h: number) => Math.min(h, Math.max(l, x));
  let pg = 0,
    nPg = 0,
    kl = 0,
    nKl = 0,
    nll = 0,
    nNll = 0;
  a.prior.forEach((row, b) => {
    const A = a.adv[b] ?? NaN;
    const fromPrior = a.fromPrior[b] === 1;
    row.forEach((lp, t) => {
      if ((a.traceMask[b]?.[t] ?? 0) === 0) return;
      const lq = a.posterior[b]?.[t] ?? NaN;
      const logRatio = clip(
        mix(lp, lq, o.w) - mix(a.oldPrior[b]?.[t] ?? NaN, a.oldPosterior[b]?.[t] ?? NaN, o.alpha),
        -20,
        20,
      );
      const rho = Math.exp(logRatio);
      pg += Math.max(-A * rho, -A * clip(rho, 1 - o.lo, 1 + o.hi));
      nPg += 1;
      if (a.truncated[b] === 1) return;
      const lpp = mix(lp, lq, o.w);
      const logRho = clip(lpp - lp, -20, 20);
      const logOmega = clip(lpp - lq, -20, 20);
      kl += fromPrior
        ? Math.exp(logRho) * logRho - Math.exp(logRho) + 1
        : Math.exp(logOmega) * logRho + Math.exp(logOmega) - 1;
      nKl += 1;
    });
    if (fromPrior && a.wellFormed[b] === 1 && A > 0) {
      a.answer[b]?.forEach((l, k) => {
        if ((a.answerMask[b]?.[k] ?? 0) === 0) return;
        nll -= l;
        nNll += 1;
      });
    }
  });
  const lPg = nPg ? pg / nPg : 0,
    lKl = nKl ? kl / nKl : 0,
    lNll = nNll ? nll / nNll : 0;
  return { total: lPg + o.klCoef * lKl + o.nllCoef * lNll, pg: lPg, kl: lKl, nll: lNll };
}

const fixture = (): CovrlBatch => ({
  priorLogProbs: tf.tensor2d([[Math.log(0.5)], [Math.log(0.5)]]),
  posteriorLogProbs: tf.tensor2d([[Math.log(0.25)], [Math.log(0.25)]]),
  oldPriorLogProbs: tf.tensor2d([[Math.log(0.5)], [Math.log(0.5)]]),
  oldPosteriorLogProbs: tf.tensor2d([[Math.log(0.25)], [Math.log(0.25)]]),
  traceMask: tf.tensor2d([[1], [1]]),
  answerLogProbs: tf.tensor2d([[Math.log(0.8)], [Math.log(0.1)]]),
  answerMask: tf.tensor2d([[1], [1]]),
  advantages: tf.tensor1d([1, -1]),
  rewards: tf.tensor1d([-0.2, -2.3]),
  sampledFromPrior: tf.tensor1d([1, 0]),
  truncated: tf.tensor1d([0, 0]),
  wellFormed: tf.tensor1d([1, 1]),
});

describe('covrlLoss', () => {
  it('matches a hand-computed fixture (p = 0.5, q = 0.25, α = w = 0.5, old = new)', () => {
    const batch = fixture();
    const { loss, metrics } = covrlLoss(batch);
    const kPrior = 0.75 * Math.log(0.75) + 0.25; // 0.0342385
    const kPost = 1.5 * Math.log(0.75) + 0.5; // 0.0684771 = 2·kPrior
    const nll = -Math.log(0.8); // only row 0 is prior ∧ well formed ∧ A > 0
    expect(loss.dataSync()[0]).toBeCloseTo((kPrior + kPost) / 2 + nll, 5);
    expect(metrics['loss/pg']).toBeCloseTo(0, 6); // ratio 1: (−1 + 1) / 2
    expect(metrics['ratio/mean']).toBe(1);
    expect(metrics['ratio/max_abs_log']).toBe(0);
    expect(metrics['ratio/clip_fraction']).toBe(0);
    expect(metrics['kl/composite/prior_rows/mean']).toBeCloseTo(kPrior, 6);
    expect(metrics['kl/composite/posterior_rows/mean']).toBeCloseTo(kPost, 6);
    expect(metrics['kl/composite/max']).toBeCloseTo(kPost, 6);
    expect(metrics['kl/p_to_q/k3_mean']).toBeCloseTo(0.5 + Math.log(2) - 1, 6);
    expect(metrics['kl/q_to_p/k3_mean']).toBeCloseTo(2 - Math.log(2) - 1, 6);
    expect(metrics['nll/mean']).toBeCloseTo(nll, 6);
    expect(metrics['nll/selected_fraction']).toBe(0.5);
    expect(metrics['reward/prior/mean']).toBeCloseTo(-0.2, 6);
    expect(metrics['reward/posterior/mean']).toBeCloseTo(-2.3, 6);
    expect(metrics['loss/total']).toBeCloseTo(loss.dataSync()[0] ?? NaN, 6);
    loss.dispose();
    disposeBatch(batch);
  });

  it('matches the float64 naive-loop oracle on seeded random batches and options', () => {
    for (const [seed, o] of [
      [1, { alpha: 0.5, w: 0.5, lo: 0.3, hi: 0.3, klCoef: 1, nllCoef: 1 }],
      [2, { alpha: 0.9, w: 0.5, lo: 0.2, hi: 0.28, klCoef: 0.1, nllCoef: 2 }],
      [3, { alpha: 0.25, w: 0.7, lo: 0.01, hi: 0.01, klCoef: 3, nllCoef: 0 }],
    ] as const) {
      const batch = randomCovrlBatch({ batchSize: 6, traceLength: 5, answerLength: 3, seed });
      const want = oracle(arrays(batch), o);
      const { loss, metrics } = covrlLoss({
        ...batch,
        alpha: o.alpha,
        priorWeight: o.w,
        clipLow: o.lo,
        clipHigh: o.hi,
        klCoef: o.klCoef,
        nllCoef: o.nllCoef,
      });
      expect(loss.dataSync()[0]).toBeCloseTo(want.total, 4);
      expect(metrics['loss/pg']).toBeCloseTo(want.pg, 4);
      expect(metrics['loss/kl']).toBeCloseTo(want.kl, 4);
      expect(metrics['loss/nll']).toBeCloseTo(want.nll, 4);
      loss.dispose();
      disposeBatch(batch);
    }
  });

  it('has the gradient of the oracle w.r.t. the new prior, posterior and answer log-probs', () => {
    const batch = randomCovrlBatch({ batchSize: 4, traceLength: 4, answerLength: 2, seed: 7 });
    const base = arrays(batch);
    const o = { alpha: 0.6, w: 0.5, lo: 0.3, hi: 0.3, klCoef: 1, nllCoef: 1 };
    const grads = tf.tidy(() =>
      tf
        .grads(
          (p: tf.Tensor, q: tf.Tensor, y: tf.Tensor) =>
            covrlLoss({
              ...batch,
              priorLogProbs: p,
              posteriorLogProbs: q,
              answerLogProbs: y,
              alpha: o.alpha,
              computeMetrics: false,
            }).loss,
        )([batch.priorLogProbs, batch.posteriorLogProbs, batch.answerLogProbs])
        .map((g) => Array.from(g.dataSync())),
    );
    const reshape = (flat: readonly number[], cols: number): M =>
      Array.from({ length: flat.length / cols }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
    for (const [i, key, cols] of [
      [0, 'prior', 4],
      [1, 'posterior', 4],
      [2, 'answer', 2],
    ] as const) {
      const flat = base[key].flat();
      const numeric = numericGradient(
        (x) => oracle({ ...base, [key]: reshape(x, cols) }, o).total,
        flat,
      );
      numeric.forEach((v, j) => expect(grads[i]?.[j]).toBeCloseTo(v, 2));
    }
    disposeBatch(batch);
  });

  it('ignores whatever sits at masked positions, NaN and ±∞ included (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(NaN, Infinity, -Infinity, 50, -1e30),
        (seed, junk) => {
          const batch = randomCovrlBatch({ batchSize: 4, traceLength: 5, answerLength: 3, seed });
          const junked = tf.tidy(() => {
            const fill = (t: tf.Tensor, m: tf.Tensor) =>
              tf.where(tf.equal(m, 0), tf.fill(t.shape, junk), t);
            return {
              ...batch,
              priorLogProbs: fill(batch.priorLogProbs, batch.traceMask),
              posteriorLogProbs: fill(batch.posteriorLogProbs, batch.traceMask),
              oldPriorLogProbs: fill(batch.oldPriorLogProbs, batch.traceMask),
              oldPosteriorLogProbs: fill(batch.oldPosteriorLogProbs, batch.traceMask),
              answerLogProbs: fill(batch.answerLogProbs, batch.answerMask),
            };
          });
          const a = covrlLoss(batch);
          const b = covrlLoss(junked);
          expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
          expect(b.metrics).toEqual(a.metrics);
          tf.dispose([a.loss, b.loss]);
          disposeBatch(junked);
          disposeBatch(batch);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('leaks no tensor, alone or inside tf.variableGrads', () => {
    const batch = randomCovrlBatch({ batchSize: 4, traceLength: 3, seed: 9 });
    expect(leakedTensors(() => covrlLoss(batch).loss)).toBe(0);
    const p = tf.variable(batch.priorLogProbs);
    const q = tf.variable(batch.posteriorLogProbs);
    const y = tf.variable(batch.answerLogProbs);
    expect(
      leakedTensors(() => {
        const { value, grads } = tf.variableGrads(
          () =>
            covrlLoss({ ...batch, priorLogProbs: p, posteriorLogProbs: q, answerLogProbs: y }).loss,
          [p, q, y],
        );
        return [value, ...Object.values(grads)];
      }),
    ).toBe(0);
    tf.dispose([p, q, y]);
    disposeBatch(batch);
  });

  it('composes registry choices given by name or function', () => {
    const batch = fixture();
    // k1 applied to (log p′, log p_φ): the paper's naive log ρ = log 0.75 on both rows
    const k1 = covrlLoss({ ...batch, klEstimator: 'k1', nllCoef: 0 });
    expect(k1.metrics['kl/k1/mean']).toBeCloseTo(Math.log(0.75), 6);
    const custom: KlEstimator = ({ logProbs, refLogProbs }) =>
      tf.tidy(() => tf.mul(2, tf.sub(logProbs, refLogProbs)));
    const c = covrlLoss({ ...batch, klEstimator: custom, nllCoef: 0 });
    expect(c.metrics['kl/custom/mean']).toBeCloseTo(2 * Math.log(0.75), 6);
    const sumAll: Aggregation = ({ loss, mask }) =>
      tf.tidy(() => tf.sum(tf.mul(loss, mask)) as tf.Scalar);
    const s = covrlLoss({ ...batch, aggregation: sumAll, surrogate: 'pg', klCoef: 0, nllCoef: 0 });
    expect(s.loss.dataSync()[0]).toBeCloseTo(0, 6); // −1·1 + 1·1
    const iw = covrlLoss({ ...batch, klEstimator: 'composite-importance-weighted' });
    expect(iw.loss.dataSync()[0]).toBeCloseTo(covrlLoss(batch).loss.dataSync()[0] ?? NaN, 5); // equal at w = 0.5
    const none = covrlLoss({ ...batch, computeMetrics: false });
    expect(none.metrics).toEqual({});
    const direct = tf.tidy(() => compositeKl(batch).dataSync());
    expect(covrlLoss(batch).metrics['kl/composite/mean']).toBeCloseTo(
      ((direct[0] ?? 0) + (direct[1] ?? 0)) / 2,
      6,
    );
  });

  it('hands the surrogate clamp(covrlImportanceLogRatio) and log p′_new, bit for bit', () => {
    // covrlLoss builds log p′_new once and reuses it for the ratio: the ratio must still be the
    // exported function's, at any α, w and clamp.
    const batch = randomCovrlBatch({ batchSize: 5, traceLength: 6, seed: 31 });
    for (const [alpha, priorWeight, clamp] of [
      [0.5, 0.5, 20],
      [0.125, 0.875, 0.05],
      [0.3, 0, 20],
      [1, 1, 20],
    ] as const) {
      let seen: { logRatio: unknown; logProbs: unknown } | undefined;
      const spy: Surrogate = (x) => {
        seen = { logRatio: x.logRatio.arraySync(), logProbs: x.logProbs?.arraySync() };
        return tf.tidy(() => tf.mul(tf.neg(tf.expandDims(x.advantages, 1)), tf.exp(x.logRatio)));
      };
      const { loss } = covrlLoss(batch, {
        surrogate: spy,
        alpha,
        priorWeight,
        logRatioClamp: clamp,
        computeMetrics: false,
      });
      const pad = (t: tf.Tensor) => tf.where(tf.greater(batch.traceMask, 0), t, tf.zerosLike(t));
      const want = tf.tidy(() =>
        tf.clipByValue(
          covrlImportanceLogRatio({
            priorLogProbs: pad(batch.priorLogProbs),
            posteriorLogProbs: pad(batch.posteriorLogProbs),
            oldPriorLogProbs: pad(batch.oldPriorLogProbs),
            oldPosteriorLogProbs: pad(batch.oldPosteriorLogProbs),
            alpha,
            priorWeight,
          }),
          -clamp,
          clamp,
        ),
      );
      expect(seen?.logRatio).toEqual(want.arraySync());
      expect(seen?.logProbs).toBeDefined();
      tf.dispose([loss, want]);
    }
    disposeBatch(batch);
  });

  it('accepts options as a second argument, which wins over the first object', () => {
    const batch = fixture();
    const a = covrlLoss({ ...batch, klCoef: 0.5, nllCoef: 2 });
    const b = covrlLoss({ ...batch, klCoef: 9 }, { klCoef: 0.5, nllCoef: 2 });
    expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
    expect(b.metrics).toEqual(a.metrics);
    expect(() => covrlLoss(batch, null as unknown as object)).toThrow(/^covrlLoss: options/);
    disposeBatch(batch);
  });

  it('masks truncated rows out of the KL and selects NLL rows by prior ∧ well formed ∧ A > 0', () => {
    const batch = { ...fixture(), truncated: tf.tensor1d([0, 1]), wellFormed: tf.tensor1d([0, 1]) };
    const { metrics } = covrlLoss(batch);
    expect(metrics['kl/composite/mean']).toBeCloseTo(0.75 * Math.log(0.75) + 0.25, 6);
    expect(metrics['nll/selected_fraction']).toBe(0);
    expect(metrics['loss/nll']).toBe(0);
  });

  it('throws naming the function and the field or option', () => {
    const batch = fixture();
    expect(() => covrlLoss({ ...batch, posteriorLogProbs: tf.zeros([2, 2]) })).toThrow(
      /^covrlLoss: posteriorLogProbs has shape \[2, 2\] but T = 1/,
    );
    expect(() => covrlLoss({ ...batch, advantages: tf.zeros([3]) })).toThrow(
      /^covrlLoss: advantages/,
    );
    expect(() => covrlLoss({ ...batch, answerMask: tf.zeros([3, 1]) })).toThrow(
      /^covrlLoss: answerMask/,
    );
    expect(() => covrlLoss({ ...batch, advantages: tf.tensor1d([NaN, 1]) })).toThrow(
      /^covrlLoss: advantages contains NaN/,
    );
    expect(() => covrlLoss({ ...batch, priorLogProbs: tf.tensor2d([[NaN], [0]]) })).toThrow(
      /^covrlLoss: priorLogProbs contains NaN or ±Infinity at real tokens/,
    );
    expect(() => covrlLoss({ ...batch, sampledFromPrior: tf.tensor1d([0.5, 1]) })).toThrow(
      /^covrlLoss: sampledFromPrior must hold only 0 and 1/,
    );
    expect(() => covrlLoss({ ...batch, alpha: 1.5 })).toThrow(/^covrlLoss: alpha/);
    expect(() => covrlLoss({ ...batch, klCoef: -1 })).toThrow(/^covrlLoss: klCoef/);
    expect(() => covrlLoss({ ...batch, clipLow: 1 })).toThrow(/^covrlLoss: clipLow/);
    expect(() => covrlLoss({ ...batch, aggregation: 'mean' as 'token-mean' })).toThrow(
      /^covrlLoss: aggregation 'mean' is unknown; valid names: token-mean/,
    );
    expect(() => covrlLoss({ ...batch, surrogate: 'ppo' as 'pg' })).toThrow(
      /^covrlLoss: surrogate 'ppo' is unknown; valid names: ppo-clip, pg/,
    );
    // The message lists the registry's names: check it includes the built-ins (in any order,
    // with room for estimators added later), not an exact list.
    expect(() => covrlLoss({ ...batch, klEstimator: 'k4' as 'k3' })).toThrow(
      /^covrlLoss: klEstimator 'k4' is unknown; valid names: /,
    );
    let message = '';
    try {
      covrlLoss({ ...batch, klEstimator: 'k4' as 'k3' });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const name of [...klEstimatorNames, 'composite', 'composite-importance-weighted']) {
      expect(message).toContain(name);
    }
    disposeBatch(batch);
  });
});
