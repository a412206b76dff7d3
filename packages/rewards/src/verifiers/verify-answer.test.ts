import { describe, expect, it } from 'vitest';
import { makeGeneratedText } from '../testing/index.js';
import { verifyAnswer } from './verify-answer.js';

describe('verifyAnswer', () => {
  it('extracts, verifies and checks the format of a well-formed response', () => {
    const text = makeGeneratedText({ trace: '7 sixes: 42.', answer: ' 42 ' });
    expect(verifyAnswer({ text, reference: '42' })).toEqual({
      extracted: '42',
      correct: true,
      formatValid: true,
    });
    expect(verifyAnswer({ text, reference: '41' })).toEqual({
      extracted: '42',
      correct: false,
      formatValid: true,
    });
  });

  it('keeps correctness and format separate', () => {
    // Correct answer, but a second answer block breaks the exactly-once rule.
    const twice = '7 sixes.</think>\n<answer>42</answer><answer>41</answer>';
    expect(verifyAnswer({ text: twice, reference: '42' })).toEqual({
      extracted: '42',
      correct: true,
      formatValid: false,
    });
    expect(verifyAnswer({ text: 'no tags at all', reference: '42' })).toEqual({
      extracted: undefined,
      correct: false,
      formatValid: false,
    });
  });

  it('uses the named verifier and tolerance', () => {
    const text = makeGeneratedText({ trace: 't', answer: '3/4' });
    expect(verifyAnswer({ text, reference: '0.75' }).correct).toBe(true);
    expect(verifyAnswer({ text, reference: '0.75', verifier: 'exact' }).correct).toBe(false);
    const near = makeGeneratedText({ trace: 't', answer: '0.7501' });
    expect(verifyAnswer({ text: near, reference: '0.75', tolerance: 1e-3 }).correct).toBe(true);
  });

  it('throws errors naming the function and the argument', () => {
    expect(() => verifyAnswer({ text: 'x', reference: '1', verifier: 'regex' as never })).toThrow(
      /^verifyAnswer: verifier 'regex' is unknown; use one of exact, numeric, fraction, choice, auto/,
    );
    expect(() => verifyAnswer({ text: 'x', reference: 1 as never })).toThrow(
      /^verifyAnswer: reference must be a string/,
    );
    expect(() => verifyAnswer({ text: 5 as never, reference: '1' })).toThrow(
      /^verifyAnswer: text must be a string/,
    );
  });
});
