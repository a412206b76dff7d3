/**
 * Every loss composes `@covrl/grpo`'s advantage registry: given `rewards` + `groupSize` (+
 * `advantage`, by name or function) instead of precomputed `advantages`, it computes
 * `groupAdvantages` itself and gives exactly the loss of the precomputed path. Also: the
 * `'reinforce'` surrogate is selectable in every loss, and batch-size edge cases.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdvantageMethod, AggregationName, Surrogate } from '@covrl/grpo';
import { aggregations, groupAdvantages, reinforceSurrogate } from '@covrl/grpo';
import { leakedTensors } from '@covrl/kl-estimators/testing';
import { describe, expect, it } from 'vitest';
import { covrlLoss } from './covrl.js';
import { grpoLoss } from './grpo.js';
import { mixtureLogProbs } from './mixture-log-probs.js';
import { rlprLoss } from './rlpr.js';
import {
  disposeBatch,
  randomCovrlBatch,
  randomPolicyBatch,
  randomVerifreeBatch,
} from './testing/index.js';
import type { LossResult } from './types.js';
import { verifreeLoss } from './verifree.js';

type Loss = (batch: never, options?: never) => LossResult;

/** The batch without its precomputed advantages (rewards kept). */
function withoutAdvantages<B extends { advantages: tf.Tensor; rewards?: tf.Tensor }>(
  batch: B,
): Omit<B, 'advantages'> & { rewards: tf.Tensor } {
  const { advantages: _dropped, ...rest } = batch;
  return { ...rest, rewards: batch.rewards as tf.Tensor };
}

type Fields = Record<string, tf.Tensor>;

/** `t` with padding (mask 0) replaced by 0, as every loss does before any op. */
const padded = (t: tf.Tensor, mask: tf.Tensor) =>
  tf.tidy(() => tf.where(tf.greater(mask, 0), t, tf.zerosLike(t)));

/**
 * Each loss with a seeded batch of whole groups (B = 6, G = 3), its default advantage method, its
 * policy-term mask and default aggregation, and the `logProbs` it must hand its surrogate: log p′_new
 * (the w = 0.5 mixture of the new prior and posterior) for CoVRL, the new ℓ for the others.
 */
const cases = [
  {
    name: 'covrlLoss',
    loss: covrlLoss as unknown as Loss,
    batch: () => randomCovrlBatch({ batchSize: 6, traceLength: 4, seed: 11 }),
    method: 'dr-grpo',
    mask: 'traceMask',
    aggregation: 'token-mean',
    policyLogProbs: (b: Fields) =>
      tf.tidy(() =>
        mixtureLogProbs({
          logProbsA: padded(b['priorLogProbs'] as tf.Tensor, b['traceMask'] as tf.Tensor),
          logProbsB: padded(b['posteriorLogProbs'] as tf.Tensor, b['traceMask'] as tf.Tensor),
          weightA: 0.5,
        }),
      ),
  },
  {
    name: 'verifreeLoss',
    loss: verifreeLoss as unknown as Loss,
    batch: () => randomVerifreeBatch({ batchSize: 6, traceLength: 4, seed: 12 }),
    method: 'rloo',
    mask: 'traceMask',
    aggregation: 'seq-mean-token-sum',
    policyLogProbs: (b: Fields) =>
      padded(b['traceLogProbs'] as tf.Tensor, b['traceMask'] as tf.Tensor),
  },
  {
    name: 'rlprLoss',
    loss: rlprLoss as unknown as Loss,
    batch: () => randomPolicyBatch({ batchSize: 6, traceLength: 4, seed: 13 }),
    method: 'grpo',
    mask: 'responseMask',
    aggregation: 'token-mean',
    policyLogProbs: (b: Fields) =>
      padded(b['responseLogProbs'] as tf.Tensor, b['responseMask'] as tf.Tensor),
  },
  {
    name: 'grpoLoss',
    loss: grpoLoss as unknown as Loss,
    batch: () => randomPolicyBatch({ batchSize: 6, traceLength: 4, seed: 14 }),
    method: 'grpo',
    mask: 'responseMask',
    aggregation: 'token-mean',
    policyLogProbs: (b: Fields) =>
      padded(b['responseLogProbs'] as tf.Tensor, b['responseMask'] as tf.Tensor),
  },
] as const;

describe.each(cases)('$name composes the advantage registry', (c) => {
  const { name, loss, batch, method } = c;
  const call = (x: object, options?: object) => loss(x as never, options as never);

  it(`computes groupAdvantages('${method}') from rewards + groupSize, exactly as precomputed`, () => {
    const b = batch();
    const rewards = b.rewards as tf.Tensor;
    const precomputed = groupAdvantages({ rewards, groupSize: 3, method });
    const want = call({ ...b, advantages: precomputed });
    const got = call({ ...withoutAdvantages(b), groupSize: 3 });
    expect(got.loss.dataSync()[0]).toBe(want.loss.dataSync()[0]);
    expect(got.metrics).toEqual(want.metrics);
    // ...and differs from the batch's own (random) advantages, so the option is really used.
    const own = call(b);
    expect(own.loss.dataSync()[0]).not.toBe(want.loss.dataSync()[0]);
    tf.dispose([precomputed, want.loss, got.loss, own.loss]);
    disposeBatch(b);
  });

  it('takes the advantage method by name or as a function, and advantageEpsilon', () => {
    const b = batch();
    const rewards = b.rewards as tf.Tensor;
    const byName = groupAdvantages({ rewards, groupSize: 2, method: 'grpo', epsilon: 0.5 });
    const want = call({ ...b, advantages: byName });
    const got = call(
      { ...withoutAdvantages(b) },
      {
        groupSize: 2,
        advantage: 'grpo',
        advantageEpsilon: 0.5,
      },
    );
    expect(got.loss.dataSync()[0]).toBe(want.loss.dataSync()[0]);
    const scaled: AdvantageMethod = ({ groupedRewards }) =>
      tf.tidy(() => tf.mul(-3, tf.sub(groupedRewards, tf.mean(groupedRewards, 1, true))));
    const custom = groupAdvantages({ rewards, groupSize: 2, method: scaled });
    const wantCustom = call({ ...b, advantages: custom });
    const gotCustom = call({ ...withoutAdvantages(b), groupSize: 2, advantage: scaled });
    expect(gotCustom.loss.dataSync()[0]).toBe(wantCustom.loss.dataSync()[0]);
    expect(gotCustom.metrics).toEqual(wantCustom.metrics);
    tf.dispose([byName, custom, want.loss, got.loss, wantCustom.loss, gotCustom.loss]);
    disposeBatch(b);
  });

  it('leaks no tensor when computing advantages, alone or inside tf.variableGrads', () => {
    const b = batch();
    const x = { ...withoutAdvantages(b), groupSize: 3 };
    expect(leakedTensors(() => call(x).loss)).toBe(0);
    const field = Object.keys(b).find((k) => /^(prior|trace|response)LogProbs$/.test(k)) as string;
    const v = tf.variable((b as unknown as Record<string, tf.Tensor>)[field] as tf.Tensor);
    expect(
      leakedTensors(() => {
        const { value, grads } = tf.variableGrads(() => call({ ...x, [field]: v }).loss, [v]);
        return [value, ...Object.values(grads)];
      }),
    ).toBe(0);
    v.dispose();
    disposeBatch(b);
  });

  it('throws naming the function and argument unless exactly one source is given', () => {
    const b = batch();
    const bare = withoutAdvantages(b);
    const re = (s: string) => new RegExp(`^${name}: ${s}`);
    expect(() => call({ ...b, groupSize: 3 })).toThrow(
      re('advantages is given together with groupSize: pass either'),
    );
    expect(() => call({ ...b, advantage: 'rloo' })).toThrow(
      re('advantages is given together with advantage'),
    );
    expect(() => call(bare)).toThrow(re('advantages is required: pass precomputed advantages'));
    expect(() => call({ ...bare, advantage: 'rloo' })).toThrow(re('groupSize is required'));
    expect(() => call({ ...bare, rewards: undefined, groupSize: 3 })).toThrow(
      re('rewards is required when groupSize is set'),
    );
    expect(() => call({ ...bare, groupSize: 4 })).toThrow(
      re('groupSize 4 does not divide B = 6; the batch must hold whole groups'),
    );
    expect(() => call({ ...bare, groupSize: 1 })).toThrow(re('groupSize must be an integer ≥ 2'));
    expect(() => call({ ...bare, groupSize: 2.5 })).toThrow(re('groupSize must be an integer'));
    expect(() => call({ ...bare, groupSize: 3, advantage: 'ppo' })).toThrow(
      re("advantage 'ppo' is unknown; valid names: grpo, dr-grpo, rloo"),
    );
    expect(() => call({ ...bare, groupSize: 3, advantageEpsilon: -1 })).toThrow(
      re('advantageEpsilon'),
    );
    const perGroup: AdvantageMethod = ({ groupedRewards }) => tf.mean(groupedRewards, 1);
    expect(() => call({ ...bare, groupSize: 3, advantage: perGroup })).toThrow(
      re('advantage could not compute the advantages \\(groupAdvantages: method returned shape'),
    );
    const nan: AdvantageMethod = ({ groupedRewards }) => tf.div(groupedRewards, 0);
    expect(() => call({ ...bare, groupSize: 3, advantage: nan })).toThrow(
      re('advantage returned NaN or ±Infinity'),
    );
    expect(() => call({ ...bare, rewards: tf.fill([6], NaN), groupSize: 3 })).toThrow(
      re('rewards contains NaN'),
    );
    disposeBatch(b);
  });

  it("selects the 'reinforce' surrogate by name: −A·log π of the policy term", () => {
    const b = batch();
    const fields = b as unknown as Fields;
    const want = c.policyLogProbs(fields); // [B, T]
    // A spy in front of reinforceSurrogate sees exactly what the named 'reinforce' is handed.
    let seen: number[][] | undefined;
    const spy: Surrogate = (x) => {
      seen = x.logProbs?.arraySync() as number[][]; // an intermediate of the loss: read it here
      return reinforceSurrogate(x);
    };
    const spied = call({ ...b, surrogate: spy });
    const r = call({ ...b, surrogate: 'reinforce' });
    expect(spied.loss.dataSync()[0]).toBe(r.loss.dataSync()[0]);
    expect(spied.metrics).toEqual(r.metrics);
    expect(seen).toEqual(want.arraySync());
    if (name === 'covrlLoss') {
      // log p′_new, not either component alone.
      for (const component of ['priorLogProbs', 'posteriorLogProbs']) {
        const l = padded(fields[component] as tf.Tensor, fields['traceMask'] as tf.Tensor);
        expect(seen).not.toEqual(l.arraySync());
        l.dispose();
      }
    }
    // Oracle: the loss's policy term is aggregate(−A·logProbs) with its default aggregation.
    const pgTerm = tf.tidy(() =>
      aggregations[c.aggregation as AggregationName]({
        loss: tf.neg(tf.mul(tf.expandDims(b.advantages, 1), want)),
        mask: fields[c.mask] as tf.Tensor,
      }),
    );
    expect(r.metrics['loss/pg']).toBeCloseTo(pgTerm.dataSync()[0] ?? NaN, 6);
    const pg = call({ ...b, surrogate: 'pg' });
    expect(r.metrics['loss/pg']).not.toBeCloseTo(pg.metrics['loss/pg'] ?? NaN, 3);
    tf.dispose([want, pgTerm, spied.loss, r.loss, pg.loss]);
    disposeBatch(b);
  });

  it('rejects a batch of no rows (B = 0) and accepts rows without tokens (T = 0)', () => {
    const b = batch();
    const slice = (rows: number, cols?: number) =>
      Object.fromEntries(
        Object.entries(b).map(([k, t]) => {
          const s = t as tf.Tensor;
          return [
            k,
            s.rank === 1
              ? tf.slice(s, [0], [rows])
              : tf.slice(s, [0, 0], [rows, cols ?? (s.shape[1] as number)]),
          ];
        }),
      );
    // tf.all of an empty tensor is false: B = 0 used to be reported as NaN in the first field.
    expect(() => call(slice(0))).toThrow(
      new RegExp(`^${name}: \\w+ has B = 0 rows; a scored batch needs at least one rollout`),
    );
    const noTokens = slice(6, 0);
    const { loss: l } = call(noTokens);
    expect(Number.isFinite(l.dataSync()[0])).toBe(true);
    l.dispose();
    disposeBatch(noTokens);
    disposeBatch(b);
  });
});
