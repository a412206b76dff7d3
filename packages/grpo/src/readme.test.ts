/** Runs the README's example and checks the README quotes it verbatim. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import {
  aggregateLoss,
  clippedSurrogate,
  groupAdvantages,
  groupRewardStats,
  stdFilterInit,
  stdFilterStep,
} from './index.js';

it('README example runs and is quoted verbatim', () => {
  // #region readme
  // Two prompts × G = 4 rollouts, groups contiguous.
  const rewards = tf.tensor1d([1, 0, 0, 1, 0.2, 0.9, 0.4, 0.4]);
  const advantages = groupAdvantages({ rewards, groupSize: 4, method: 'grpo' }); // [8]

  // Per-token PPO loss with clip-higher, then a masked token-mean.
  const logRatio = tf.randomUniform([8, 5], -0.3, 0.3, 'float32', 7); // log π_new − log π_old
  const mask = tf.ones([8, 5]); // 1 = real token, 0 = padding
  const perToken = clippedSurrogate({ logRatio, advantages, clipLow: 0.2, clipHigh: 0.27 });
  const loss = aggregateLoss({ loss: perToken, mask, mode: 'token-mean' }); // scalar

  // RLPR's std filter: a pure reducer over steps.
  const { groupStds } = groupRewardStats({ rewards, groupSize: 4 });
  let filter = stdFilterInit({ beta: 0.5 });
  const result = stdFilterStep(filter, { step: 1, groupStds });
  filter = result.state; // result.keep: one boolean per group
  // #endregion readme

  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const source = readFileSync(new URL('./readme.test.ts', import.meta.url), 'utf8');
  const region =
    (source.split('// #region readme\n')[1] ?? '').split('  // #endregion readme')[0] ?? '';
  const body = region.replace(/^ {2}/gm, '');
  expect(body.length).toBeGreaterThan(100);
  expect(readme).toContain(body);

  expect(advantages.shape).toEqual([8]);
  expect(loss.shape).toEqual([]);
  expect(Number.isFinite(loss.dataSync()[0])).toBe(true);
  expect(result.keep).toEqual([true, true]);
  expect(filter.lastStep).toBe(1);
});
