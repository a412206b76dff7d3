/**
 * Runs the README's example and checks the README quotes it verbatim (the region between the
 * markers, de-indented, with the README's import lines instead of the relative ones).
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import * as E from 'fp-ts/lib/Either.js';
import { expect, it } from 'vitest';
import { compositeKl, getKlEstimator, k3, klEstimators, straightThrough } from './index.js';

it('README example runs and is quoted verbatim', () => {
  // #region readme
  const logProbs = tf.tensor2d([[-0.5, -1.2, -0.1]]); // log π of the sampled tokens, [B, T]
  const refLogProbs = tf.tensor2d([[-0.7, -1.0, -0.3]]); // log π_ref of the same tokens
  const perToken = k3({ logProbs, refLogProbs }); // [1, 3], every entry ≥ 0

  const k3Plus = straightThrough(k3); // value of k3, gradient of k2 (verl's "k3+")
  const found = getKlEstimator('lowVarKl'); // Either<string, KlEstimator>
  const lowVar = E.isRight(found) ? found.right : klEstimators.k3;

  const composite = compositeKl({
    priorLogProbs: tf.tensor2d([-0.5, -1.2, -0.9, -0.4], [2, 2]), // log p_φ (question only)
    posteriorLogProbs: tf.tensor2d([-0.4, -0.2, -0.3, -0.6], [2, 2]), // log q_ψ (answer shown)
    sampledFromPrior: tf.tensor1d([1, 0]), // row 0 sampled from the prior template
  }); // [2, 2] estimates of KL(p′‖p_φ), all ≥ 0 at the default priorWeight 0.5
  // #endregion readme

  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const source = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  const region =
    (source.split('// #region readme\n')[1] ?? '').split('  // #endregion readme')[0] ?? '';
  const body = region.replace(/^ {2}/gm, '');
  expect(body.length).toBeGreaterThan(100);
  expect(readme).toContain(body);

  expect(perToken.shape).toEqual([1, 3]);
  expect(Array.from(perToken.dataSync()).every((v) => v >= 0)).toBe(true);
  expect(Array.from(k3Plus({ logProbs, refLogProbs }).dataSync())).toEqual(
    Array.from(perToken.dataSync()),
  );
  expect(lowVar).toBe(klEstimators.lowVarKl);
  expect(Array.from(composite.dataSync()).every((v) => v >= 0)).toBe(true);
});
