/**
 * Runs the code of new-estimator.md: the guide's ```ts block must equal new-estimator.example.ts,
 * and that file's exports must behave as the guide says.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { disposeBatch, randomCovrlBatch, randomPolicyBatch } from '@covrl/objectives/testing';
import * as E from 'fp-ts/lib/Either.js';
import { klEstimators } from '@covrl/kl-estimators';
import { describe, expect, it } from 'vitest';
import {
  check,
  covrlWithMyKl,
  found,
  grpoWithMyKl,
  k3Half,
  leaked,
  myKlEstimators,
} from './new-estimator.example.js';

describe('docs/guides/new-estimator.md', () => {
  it('quotes new-estimator.example.ts verbatim as its ts code block', () => {
    const guide = readFileSync(new URL('./new-estimator.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL('./new-estimator.example.ts', import.meta.url), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(guide)?.[1];
    expect(block).toBe(example);
  });

  it('registers, checks and uses the estimator as the guide states', () => {
    expect(E.isRight(found)).toBe(true);
    // The built-ins (whatever the package ships) plus the guide's estimator.
    expect(Object.keys(myKlEstimators)).toEqual([...Object.keys(klEstimators), 'k3Half']);
    expect(Math.abs(check.mean - check.exact)).toBeLessThan(3 * check.standardError);
    expect(check.exact).toBeGreaterThan(0.1);
    expect(leaked).toBe(0);
    const value = tf.tidy(() =>
      k3Half({ logProbs: tf.tensor1d([-1]), refLogProbs: tf.tensor1d([-2]) }).dataSync(),
    );
    expect(value[0]).toBeCloseTo(1 + 0.5 * (Math.exp(-1) - 1), 6);

    const covrlBatch = randomCovrlBatch({ batchSize: 4, traceLength: 5, seed: 1 });
    const covrl = covrlWithMyKl(covrlBatch);
    expect(Number.isFinite(covrl.metrics['kl/custom/mean'])).toBe(true);
    expect(Number.isFinite(covrl.loss.dataSync()[0])).toBe(true);
    const policyBatch = randomPolicyBatch({ batchSize: 4, traceLength: 5, seed: 2 });
    const grpo = grpoWithMyKl(policyBatch);
    expect(Number.isFinite(grpo.metrics['loss/kl'])).toBe(true);
    tf.dispose([covrl.loss, grpo.loss]);
    disposeBatch(covrlBatch);
    disposeBatch(policyBatch);
  });
});
