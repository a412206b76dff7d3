/**
 * Every export of the package throws an Error naming itself and the argument on invalid input
 * (api.md), and accepts empty tensors where an empty batch has a meaning.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  answerLikelihoodReward,
  applyInvalidRowRule,
  applyInvalidRowRuleToNumbers,
  debiasedReward,
  extractAnswer,
  formatReward,
  isEquivalent,
  parseChoiceAnswer,
  parseNumericAnswer,
  parseRationalAnswer,
  repetitionPenalty,
  rewardFormNames,
  verifierNames,
  verifiers,
  verifyAnswer,
} from './index.js';

describe('invalid inputs name the function and the argument', () => {
  it.each([
    ['answerLikelihoodReward', () => answerLikelihoodReward(null as never)],
    ['applyInvalidRowRule', () => applyInvalidRowRule(undefined as never)],
    ['applyInvalidRowRuleToNumbers', () => applyInvalidRowRuleToNumbers(3 as never)],
    ['debiasedReward', () => debiasedReward(null as never)],
    ['formatReward', () => formatReward('text' as never)],
    ['repetitionPenalty', () => repetitionPenalty(null as never)],
    ['extractAnswer', () => extractAnswer(null as never)],
    ['verifyAnswer', () => verifyAnswer(null as never)],
  ] as const)('%s rejects a non-object argument', (name, call) => {
    expect(call).toThrow(new RegExp(`^${name}: argument must be an object of named fields`));
  });

  it('the answer parsers reject a non-string answer in their own name', () => {
    // parseChoiceAnswer used to throw a raw TypeError; the other two reported normalizeAnswer.
    expect(() => parseChoiceAnswer(5 as never)).toThrow(
      /^parseChoiceAnswer: answer must be a string, got number/,
    );
    expect(() => parseNumericAnswer(5 as never)).toThrow(
      /^parseNumericAnswer: answer must be a string, got number/,
    );
    expect(() => parseRationalAnswer(null as never)).toThrow(
      /^parseRationalAnswer: answer must be a string, got null/,
    );
    expect(() => parseChoiceAnswer('B', null as never)).toThrow(
      /^parseChoiceAnswer: options must be an object/,
    );
    expect(() => parseChoiceAnswer('B', { bareOnly: 'yes' as never })).toThrow(
      /^parseChoiceAnswer: options.bareOnly must be a boolean/,
    );
  });

  it.each(verifierNames)(
    'verifiers.%s rejects non-string answers and a non-object argument',
    (name) => {
      const verifier = verifiers[name];
      expect(() => verifier({ predicted: 5 as never, reference: '5' })).toThrow(
        new RegExp(`^verifiers\\.${name}: predicted must be a string, got number`),
      );
      expect(() => verifier({ predicted: '5', reference: undefined as never })).toThrow(
        new RegExp(`^verifiers\\.${name}: reference must be a string, got undefined`),
      );
      expect(() => verifier(null as never)).toThrow(
        new RegExp(`^verifiers\\.${name}: argument must be an object`),
      );
    },
  );

  it('isEquivalent and verifyAnswer check the tolerance in their own name', () => {
    expect(() => isEquivalent('1', '1', { tolerance: -1 })).toThrow(/^isEquivalent: tolerance/);
    expect(() =>
      verifyAnswer({ text: '</think><answer>1</answer>', reference: '1', tolerance: -1 }),
    ).toThrow(/^verifyAnswer: tolerance must be a finite number ≥ 0, got -1/);
    expect(() =>
      verifyAnswer({ text: 'x', reference: '1', tolerance: Number.POSITIVE_INFINITY }),
    ).toThrow(/^verifyAnswer: tolerance/);
  });
});

describe('empty tensors', () => {
  // tf.all of an empty tensor is false; the checks must not report bad values that are not there.
  it('answerLikelihoodReward gives [0] for B = 0 and the empty-row value for A = 0', () => {
    for (const form of rewardFormNames) {
      const none = answerLikelihoodReward({
        answerLogProbs: tf.zeros([0, 3]),
        answerMask: tf.zeros([0, 3]),
        form,
      });
      expect(none.shape).toEqual([0]);
      const noTokens = answerLikelihoodReward({
        answerLogProbs: tf.zeros([2, 0]),
        answerMask: tf.zeros([2, 0]),
        form,
      });
      // n = 0: sum forms give the empty sum / product, mean forms 0 (documented rule).
      const want = form === 'log-prob-sum' ? 0 : form === 'prob' ? 1 : 0;
      expect(Array.from(noTokens.dataSync())).toEqual([want, want]);
      tf.dispose([none, noTokens]);
    }
  });

  it('debiasedReward and applyInvalidRowRule give [0] for no rows', () => {
    const empty = tf.tensor1d([]);
    const debiased = debiasedReward({ reward: empty, baseline: empty });
    expect(debiased.shape).toEqual([0]);
    for (const form of ['log-prob-sum', 'prob'] as const) {
      const out = applyInvalidRowRule({ rewards: empty, valid: empty, groupSize: 4, form });
      expect(out.shape).toEqual([0]);
      out.dispose();
    }
    tf.dispose([empty, debiased]);
  });
});
