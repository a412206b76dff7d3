import * as tf from '@tensorflow/tfjs';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { answerLikelihoodReward } from './answer-likelihood-reward.js';
import { isRewardForm, rewardFormNames, rewardFormUnit } from './reward-form-names.js';
import { getRewardForm, rewardForms } from './reward-form-registry.js';
import { makeAnswerLogProbs } from './testing/index.js';

describe('rewardForms registry', () => {
  // "Includes the built-ins", not an exact list, so adding a form keeps this green.
  it('includes the five contract forms, one function per name, frozen', () => {
    expect(Object.keys(rewardForms)).toEqual([...rewardFormNames]);
    expect(rewardFormNames).toEqual(
      expect.arrayContaining([
        'log-prob-sum',
        'log-prob-mean',
        'prob',
        'mean-prob',
        'geo-mean-prob',
      ]),
    );
    expect(Object.isFrozen(rewardForms)).toBe(true);
    expect(Object.keys(rewardFormUnit).sort()).toEqual([...rewardFormNames].sort());
    expect(rewardFormNames.every(isRewardForm)).toBe(true);
    expect(isRewardForm('toString')).toBe(false);
  });

  it('each member equals answerLikelihoodReward with that form', () => {
    const { answerLogProbs, answerMask } = makeAnswerLogProbs({ rows: [[-1, -0.5], [-2], []] });
    for (const form of rewardFormNames) {
      const viaRegistry = rewardForms[form]({ answerLogProbs, answerMask });
      const direct = answerLikelihoodReward({ answerLogProbs, answerMask, form });
      expect(Array.from(viaRegistry.dataSync())).toEqual(Array.from(direct.dataSync()));
      tf.dispose([viaRegistry, direct]);
    }
    tf.dispose([answerLogProbs, answerMask]);
  });

  it('getRewardForm returns Right for known names and a Left listing valid names otherwise', () => {
    const found = getRewardForm('mean-prob');
    expect(isRight(found) && found.right).toBe(rewardForms['mean-prob']);
    for (const bad of ['mean_prob', 'toString', '__proto__', '']) {
      const missing = getRewardForm(bad);
      expect(isLeft(missing)).toBe(true);
      if (isLeft(missing)) {
        expect(missing.left).toBe(
          `getRewardForm: unknown reward form '${bad}'; valid names: log-prob-sum, log-prob-mean, prob, mean-prob, geo-mean-prob`,
        );
      }
    }
  });
});
