import { describe, expect, it } from 'vitest';
import { NonFiniteInputError, fail, isNonFiniteInputError } from './errors.js';

describe('NonFiniteInputError', () => {
  it('names the function and the argument in its fields and message', () => {
    const e = new NonFiniteInputError('covrlLoss', 'priorLogProbs');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(NonFiniteInputError);
    expect(e.name).toBe('NonFiniteInputError');
    expect(e.fn).toBe('covrlLoss');
    expect(e.argument).toBe('priorLogProbs');
    expect(e.message).toBe(
      'covrlLoss: priorLogProbs contains NaN or ±Infinity; pass finite values',
    );
    expect(String(e)).toMatch(/^NonFiniteInputError: covrlLoss: priorLogProbs/);
  });

  it('is recognised by name across copies, and nothing else is', () => {
    const foreign = Object.assign(new Error('x: y contains NaN'), {
      name: 'NonFiniteInputError',
      fn: 'x',
      argument: 'y',
    });
    expect(isNonFiniteInputError(foreign)).toBe(true);
    expect(isNonFiniteInputError(new NonFiniteInputError('f', 'a'))).toBe(true);
    expect(isNonFiniteInputError(new Error('f: a contains NaN'))).toBe(false);
    expect(isNonFiniteInputError({ name: 'NonFiniteInputError' })).toBe(false);
    expect(isNonFiniteInputError(null)).toBe(false);
  });

  it('fail throws the uniform message', () => {
    expect(() => fail('f', 'arg', 'is wrong')).toThrow(new Error('f: arg is wrong'));
  });
});
