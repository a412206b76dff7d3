import { describe, expect, it } from 'vitest';
import { applyInvalidRowRuleToNumbers } from './apply-invalid-row-rule-to-numbers.js';

// Oracle agreement with the tensor version on random inputs lives in apply-invalid-row-rule.test.ts.
describe('applyInvalidRowRuleToNumbers', () => {
  it('accepts booleans or 1/0 and matches the hand example', () => {
    const rewards = [-3, -5, Number.NaN, -1];
    expect(
      applyInvalidRowRuleToNumbers({
        rewards,
        valid: [1, 1, 0, 1],
        groupSize: 4,
        form: 'log-prob-sum',
      }),
    ).toEqual([-3, -5, -6, -1]);
    expect(
      applyInvalidRowRuleToNumbers({
        rewards,
        valid: [true, true, false, true],
        groupSize: 2,
        form: 'prob',
      }),
    ).toEqual([-3, -5, 0, -1]);
  });

  it('throws errors naming the function and the argument', () => {
    const base = { rewards: [-1, -2], valid: [true, true], groupSize: 2, form: 'prob' as const };
    expect(() => applyInvalidRowRuleToNumbers({ ...base, valid: [true] })).toThrow(
      /^applyInvalidRowRuleToNumbers: valid has length 1/,
    );
    expect(() => applyInvalidRowRuleToNumbers({ ...base, groupSize: 3 })).toThrow(
      /^applyInvalidRowRuleToNumbers: groupSize 3 must be a positive integer dividing N = 2/,
    );
    expect(() => applyInvalidRowRuleToNumbers({ ...base, valid: [1, 0.5] })).toThrow(
      /^applyInvalidRowRuleToNumbers: valid\[1\] must be/,
    );
    expect(() => applyInvalidRowRuleToNumbers({ ...base, rewards: [-1, Number.NaN] })).toThrow(
      /^applyInvalidRowRuleToNumbers: rewards\[1\] = NaN is not finite at a valid row/,
    );
    expect(() => applyInvalidRowRuleToNumbers({ ...base, form: 'nope' as never })).toThrow(
      /^applyInvalidRowRuleToNumbers: form 'nope' is unknown/,
    );
    expect(() => applyInvalidRowRuleToNumbers({ ...base, margin: -0.1 })).toThrow(
      /^applyInvalidRowRuleToNumbers: margin must be/,
    );
  });
});
