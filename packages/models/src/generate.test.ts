import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleFromLogProbs } from './generate.js';
import { createRng } from './rng.js';

/** Oracle kept set: top-k by probability (ties by id), then the smallest prefix with mass ≥ p. */
function keptSet(logProbs: number[], topK: number, topP: number): Set<number> {
  const order = logProbs
    .map((_, i) => i)
    .sort((a, b) => (logProbs[b] ?? 0) - (logProbs[a] ?? 0) || a - b);
  const k = topK > 0 && topK < logProbs.length ? topK : logProbs.length;
  const top = order.slice(0, k);
  const total = top.reduce((s, i) => s + Math.exp(logProbs[i] ?? 0), 0);
  const kept: number[] = [];
  let cum = 0;
  for (const i of top) {
    kept.push(i);
    cum += Math.exp(logProbs[i] ?? 0);
    if (topP < 1 && cum >= topP * total) break;
  }
  return new Set(kept);
}

function normalise(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
  return z.map((x) => x - lse);
}

describe('sampleFromLogProbs', () => {
  it('greedy picks the first arg-max and always consumes one uniform', () => {
    const rng = createRng(1);
    const ref = createRng(1);
    expect(
      sampleFromLogProbs([-2, -0.5, -0.5, -3], { temperature: 0, topK: 0, topP: 1 }, rng),
    ).toBe(1);
    ref.next();
    expect(rng.getState()).toBe(ref.getState());
  });

  it('only returns ids of the top-k / top-p set', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.integer(),
        (z, topK, topP, seed) => {
          const lp = normalise(z);
          const kept = keptSet(lp, topK, topP);
          const rng = createRng(seed);
          for (let i = 0; i < 20; i++) {
            expect(kept.has(sampleFromLogProbs(lp, { temperature: 1, topK, topP }, rng))).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('samples the renormalised kept distribution (Monte Carlo)', () => {
    const lp = normalise([0, Math.log(2), Math.log(3), Math.log(4), -10]);
    const rng = createRng(7);
    const n = 20000;
    const counts = new Array(5).fill(0) as number[];
    // top-k 3 keeps ids 3, 2, 1 with mass 4:3:2; top-p 0.6 of that keeps 3 and 2 (4/9 < 0.6 ≤ 7/9).
    for (let i = 0; i < n; i++) {
      const id = sampleFromLogProbs(lp, { temperature: 1, topK: 3, topP: 0.6 }, rng);
      counts[id] = (counts[id] ?? 0) + 1;
    }
    expect(counts[0]).toBe(0);
    expect(counts[1]).toBe(0);
    expect(counts[4]).toBe(0);
    expect(Math.abs((counts[3] ?? 0) / n - 4 / 7)).toBeLessThan(0.015);
    expect(Math.abs((counts[2] ?? 0) / n - 3 / 7)).toBeLessThan(0.015);
    // Unfiltered sampling follows the probabilities.
    const all = new Array(5).fill(0) as number[];
    for (let i = 0; i < n; i++) {
      const id = sampleFromLogProbs(lp, { temperature: 1, topK: 0, topP: 1 }, rng);
      all[id] = (all[id] ?? 0) + 1;
    }
    lp.forEach((l, i) => expect(Math.abs((all[i] ?? 0) / n - Math.exp(l))).toBeLessThan(0.015));
  });
});

describe('createRng', () => {
  it('restores its state exactly and differs across seeds', () => {
    const a = createRng(42);
    a.next();
    const state = a.getState();
    const first = [a.next(), a.normal(), a.next()];
    a.setState(state);
    expect([a.next(), a.normal(), a.next()]).toEqual(first);
    expect(createRng(1).next()).not.toBe(createRng(2).next());
    const u = Array.from({ length: 10000 }, () => a.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((s, x) => s + x, 0) / u.length - 0.5)).toBeLessThan(0.02);
  });
});
