import { describe, expect, it } from 'vitest';
import { safeInteger, showValue } from './values.js';

describe('safeInteger', () => {
  it('accepts integer numbers and bigints in the safe range, exactly', () => {
    expect(safeInteger(3)).toBe(3);
    expect(safeInteger(-2)).toBe(-2);
    expect(safeInteger(3n)).toBe(3);
    expect(safeInteger(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(safeInteger(-BigInt(Number.MAX_SAFE_INTEGER))).toBe(-Number.MAX_SAFE_INTEGER);
  });

  it('refuses non-integers, non-numbers and bigints with no exact number', () => {
    expect(safeInteger(1.5)).toBeUndefined();
    expect(safeInteger(Number.NaN)).toBeUndefined();
    expect(safeInteger('3')).toBeUndefined();
    expect(safeInteger(null)).toBeUndefined();
    expect(safeInteger(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toBeUndefined();
  });
});

describe('showValue', () => {
  it('shows bigints (alone and nested) as digits where JSON.stringify throws', () => {
    expect(() => JSON.stringify(7n)).toThrow(/BigInt/);
    expect(showValue(7n)).toBe('7');
    expect(showValue({ a: [1n, 'x'] })).toBe('{"a":["1","x"]}');
  });

  it('shows numbers as String writes them, NaN and ±Infinity included (JSON.stringify writes null)', () => {
    expect(JSON.stringify(Number.NaN)).toBe('null');
    expect(showValue(Number.NaN)).toBe('NaN');
    expect(showValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(showValue(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(showValue(-0)).toBe('0');
    expect(showValue(1e21)).toBe('1e+21');
    expect(showValue([1, Number.NaN, Number.NEGATIVE_INFINITY])).toBe('[1,"NaN","-Infinity"]');
  });

  it('quotes strings, cuts long values and names what JSON cannot show', () => {
    expect(showValue('maths')).toBe('"maths"');
    expect(showValue(2.5)).toBe('2.5');
    expect(showValue(null)).toBe('null');
    expect(showValue(undefined)).toBe('(undefined)');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(showValue(cyclic)).toBe('(object)');
    const long = showValue('x'.repeat(500));
    expect(long).toHaveLength(80);
    expect(long.endsWith('…')).toBe(true);
  });
});
