import { describe, expect, it } from 'vitest';
import { SeededRng, createRng, deriveSeed, mixSeed, mulberry32 } from './rng.js';

// The pinned numbers were produced by the three generators this one replaces (@covrl/data's Rng,
// @covrl/models' createRng, @covrl/sampler's mulberry32/deriveSeed) before the switch.
describe('SeededRng', () => {
  it("continues @covrl/data's Rng stream bit for bit", () => {
    const r = new SeededRng(42);
    expect([r.nextUint32(), r.next(), r.int(1, 6), r.state]).toEqual([
      2581720956, 0.44829055899754167, 6, 1199730185,
    ]);
  });

  it("createRng continues @covrl/models' stream (mixed seed, Box–Muller normal)", () => {
    const m = createRng(7);
    expect([m.next(), m.normal(), m.getState()]).toEqual([
      0.7227507401257753, -1.816203511700143, 1788416264,
    ]);
    expect(() => createRng(0.5)).toThrow(/createRng: seed must be an integer/);
  });

  it("mulberry32 and deriveSeed match @covrl/sampler's", () => {
    const u = mulberry32(3);
    expect([u(), u()]).toEqual([0.7202267837710679, 0.03866216051392257]);
    expect(deriveSeed(5, 2)).toBe(1102698049);
    expect(() => mulberry32(Number.NaN)).toThrow(/mulberry32: seed must be a finite number/);
    expect(() => deriveSeed(1, -1)).toThrow(/deriveSeed: row must be a non-negative integer/);
  });

  it('restores a saved state exactly and refuses a state that is not a uint32', () => {
    const a = new SeededRng(9);
    a.next();
    const saved = a.getState();
    const rest = [a.next(), a.next()];
    expect([SeededRng.fromState(saved).next(), SeededRng.fromState(saved).next()]).toEqual([
      rest[0],
      rest[0],
    ]);
    const b = SeededRng.fromState(saved);
    expect([b.next(), b.next()]).toEqual(rest);
    expect(() => b.setState(-1)).toThrow(/Rng.setState: state must be an unsigned 32-bit/);
    expect(() => b.setState(2 ** 32)).toThrow(/Rng.setState/);
  });

  it('draws within range and refuses bad arguments by name', () => {
    const r = new SeededRng(1);
    for (let i = 0; i < 100; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      expect([3, 4, 5]).toContain(r.int(3, 5));
    }
    expect(() => r.int(2, 1)).toThrow(/Rng.int/);
    expect(() => r.pick([])).toThrow(/Rng.pick/);
    expect(r.sample([1, 2, 3, 4], 4).sort()).toEqual([1, 2, 3, 4]);
    expect(() => r.sample([1], 2)).toThrow(/Rng.sample/);
    expect(r.bernoulli(0)).toBe(false);
    expect(r.bernoulli(1)).toBe(true);
  });

  it('mixSeed spreads neighbouring seeds', () => {
    expect(mixSeed(0)).not.toBe(mixSeed(1));
    expect(mixSeed(1) >>> 0).toBe(mixSeed(1));
  });
});
