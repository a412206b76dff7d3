/** Runs the README's example and checks the README quotes it verbatim. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { covrlLoss } from './index.js';

it('README example runs and is quoted verbatim', () => {
  // #region readme
  // Two rollouts (B = 2) with 3 trace tokens (T) and 2 answer tokens (A); row 1 is padded.
  const prior = tf.variable(tf.tensor2d([-0.7, -1.1, -0.4, -0.9, -0.5, 0], [2, 3]));
  const posterior = tf.variable(tf.tensor2d([-0.5, -0.8, -0.6, -0.4, -0.7, 0], [2, 3]));
  const answer = tf.variable(tf.tensor2d([-0.3, -0.2, -1.5, -0.9], [2, 2]));
  const batch = {
    oldPriorLogProbs: prior.clone(), // behaviour log-probs from the sampling step (detached)
    oldPosteriorLogProbs: posterior.clone(),
    traceMask: tf.tensor2d([1, 1, 1, 1, 1, 0], [2, 3]),
    answerMask: tf.ones([2, 2]),
    advantages: tf.tensor1d([0.8, -0.8]), // groupAdvantages({ method: 'dr-grpo' }) upstream
    sampledFromPrior: tf.tensor1d([1, 0]),
    truncated: tf.tensor1d([0, 0]),
    wellFormed: tf.tensor1d([1, 1]),
  };
  let metrics: Record<string, number> = {};
  const { value, grads } = tf.variableGrads(() => {
    const result = covrlLoss({
      ...batch,
      priorLogProbs: prior,
      posteriorLogProbs: posterior,
      answerLogProbs: answer,
      klCoef: 1, // covrl.klCoef
    });
    metrics = result.metrics; // plain numbers: 'loss/pg', 'kl/composite/mean', 'nll/mean', …
    return result.loss;
  });
  // #endregion readme

  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const source = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  const region =
    (source.split('// #region readme\n')[1] ?? '').split('  // #endregion readme')[0] ?? '';
  const body = region.replace(/^ {2}/gm, '');
  expect(body.length).toBeGreaterThan(100);
  expect(readme).toContain(body);

  expect(Number.isFinite(value.dataSync()[0])).toBe(true);
  expect(Object.keys(grads).length).toBe(3);
  expect(metrics['ratio/max_abs_log']).toBe(0); // α = w = 0.5 and old = new: ratio exactly 1
  expect(metrics['nll/selected_fraction']).toBe(0.5);
});
