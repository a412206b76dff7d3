import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { compositeKl } from './composite-kl.js';
import { compositeOracle } from './internal/composite-oracle.test.helpers.js';
import { compositeSuite } from './internal/composite-suite.test.helpers.js';

describe('compositeKl', () => {
  compositeSuite('compositeKl', compositeKl, compositeOracle);

  it('matches a hand-computed fixture (p = 0.5, q = 0.25, w = 0.5)', () => {
    // p′ = 0.375, ρ = 0.75, ω = 1.5:
    // prior row ρ ln ρ − ρ + 1 = 0.0342385…, posterior row ω ln ρ + ω − 1 = 0.0684771… (= prior · p/q)
    const out = compositeKl({
      priorLogProbs: tf.tensor2d([[Math.log(0.5)], [Math.log(0.5)]]),
      posteriorLogProbs: tf.tensor2d([[Math.log(0.25)], [Math.log(0.25)]]),
      sampledFromPrior: tf.tensor1d([1, 0]),
    });
    const [prior, posterior] = out.dataSync();
    expect(prior).toBeCloseTo(0.75 * Math.log(0.75) + 0.25, 6);
    expect(posterior).toBeCloseTo(1.5 * Math.log(0.75) + 0.5, 6);
    expect(posterior).toBeCloseTo(2 * (prior ?? NaN), 6);
    out.dispose();
  });

  it('can go negative on posterior rows when w ≠ 0.5 (why property tests pin w = 0.5)', () => {
    // w = 0.9, p ≪ q: k_post − (p/q)·k_prior = (2w − 1)(p/q − 1) < 0 dominates.
    const out = compositeKl({
      priorLogProbs: tf.tensor2d([[Math.log(0.01)]]),
      posteriorLogProbs: tf.tensor2d([[Math.log(0.9)]]),
      sampledFromPrior: tf.tensor1d([0]),
      priorWeight: 0.9,
    });
    expect(out.dataSync()[0]).toBeLessThan(0);
    out.dispose();
  });

  it('is exactly 0 on prior rows at w = 1 (p′ = p)', () => {
    const out = compositeKl({
      priorLogProbs: tf.tensor2d([[-0.3, -2]]),
      posteriorLogProbs: tf.tensor2d([[-1, -0.1]]),
      sampledFromPrior: tf.tensor1d([1]),
      priorWeight: 1,
    });
    expect(Array.from(out.dataSync())).toEqual([0, 0]);
    out.dispose();
  });
});
