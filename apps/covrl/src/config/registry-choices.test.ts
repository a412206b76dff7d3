/**
 * The config's choice lists come from the libraries' registries: an estimator added to
 * `klEstimators` (as docs/guides/new-estimator.md's "Contributing it to the package" does) is
 * selectable as `covrl.klEstimator` with no edit to the app, and a CoVRL step uses it by name.
 */
import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import type * as Kl from '@covrl/kl-estimators';
import { advantageMethods, aggregations } from '@covrl/grpo';
import { rewardFormNames } from '@covrl/rewards';

const calls = vi.hoisted(() => ({ k3Half: 0 }));

vi.mock('@covrl/kl-estimators', async (importOriginal) => {
  const kl = await importOriginal<typeof Kl>();
  // Schulman's unbiased control-variate estimator k1 + λ(r − 1) at λ = ½ (the guide's example).
  const k3Half: Kl.KlEstimator = ({ logProbs, refLogProbs }) => {
    calls.k3Half++;
    const d = tf.sub(logProbs, refLogProbs);
    return tf.add(d, tf.mul(0.5, tf.sub(tf.exp(tf.neg(d)), 1)));
  };
  return { ...kl, klEstimators: Object.freeze({ ...kl.klEstimators, k3Half }) };
});

const { decodeConfig } = await import('./decode.js');
const { ENUMS } = await import('./schema.js');

describe('config choices from the registries', () => {
  it('lists every registered name (and only those) for the registry-backed keys', () => {
    expect(ENUMS['covrl.klEstimator']).toContain('k3Half');
    expect(ENUMS['covrl.aggregation']).toEqual(Object.keys(aggregations));
    expect(ENUMS['covrl.advantageMethod']).toEqual(Object.keys(advantageMethods));
    expect(ENUMS['covrl.rewardForm']).toEqual(rewardFormNames);
  });

  it('accepts an estimator added to klEstimators, and still refuses an unknown one by name', () => {
    const ok = decodeConfig({ method: 'covrl', flags: { 'covrl.klEstimator': 'k3Half' } });
    expect(E.isRight(ok) && ok.right.covrl.klEstimator).toBe('k3Half');
    const bad = decodeConfig({ method: 'covrl', flags: { 'covrl.klEstimator': 'k4' } });
    expect(E.isLeft(bad) && bad.left.join('\n')).toMatch(
      /'covrl\.klEstimator' is 'k4'; use one of .*k3Half/,
    );
  });

  it('covrlLoss uses the added estimator by the name the config carries', async () => {
    const { covrlLoss } = await import('@covrl/objectives');
    const { randomCovrlBatch, disposeBatch } = await import('@covrl/objectives/testing');
    const batch = randomCovrlBatch({ batchSize: 4, traceLength: 5, seed: 3 });
    const before = calls.k3Half;
    const out = covrlLoss(batch, { klEstimator: 'k3Half' as Kl.KlEstimatorName });
    expect(calls.k3Half).toBeGreaterThan(before);
    expect(Number.isFinite(out.loss.dataSync()[0])).toBe(true);
    out.loss.dispose();
    disposeBatch(batch);
  });
});
