import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a32, seedFrom } from './hash.js';
import { Rng } from './rng.js';
import type { Example } from './schema.js';
import { dedupe, normaliseQuestion, shuffle, splitOf } from './split.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('splitOf', () => {
  it('is a pure function of (id, salt, testFraction)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (id, salt, f) => {
          expect(splitOf(id, { testFraction: f, salt })).toBe(
            splitOf(id, { testFraction: f, salt }),
          );
        },
      ),
    );
  });

  it('puts about testFraction of ids in test', () => {
    const n = 20_000;
    let test = 0;
    for (let i = 0; i < n; i++)
      if (splitOf(`gsm8k-${i}`, { testFraction: 0.2 }) === 'test') test += 1;
    // Binomial sd = sqrt(n p (1-p)) ≈ 57; allow 5 sd.
    expect(Math.abs(test - 0.2 * n)).toBeLessThan(5 * Math.sqrt(n * 0.2 * 0.8));
  });

  it('only moves ids from train to test as testFraction grows', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (id, a, b) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          if (splitOf(id, { testFraction: lo }) === 'test')
            expect(splitOf(id, { testFraction: hi })).toBe('test');
        },
      ),
    );
    expect(() => splitOf('x', { testFraction: 1.5 })).toThrow(/testFraction/);
  });
});

describe('dedupe', () => {
  const ex = (id: string, question: string): Example => ({
    id,
    question,
    answer: '1',
    domain: 'math',
    family: 'f',
  });
  it('keeps the first of each normalised question and lists every duplicate', () => {
    const input = [
      ex('a', 'What is 2+2?'),
      ex('b', '  what   is 2+2 '),
      ex('c', 'What is 3+3?'),
      ex('d', 'WHAT IS 2+2?!'),
    ];
    const { kept, duplicates } = dedupe(input);
    expect(kept.map((e) => e.id)).toEqual(['a', 'c']);
    expect(duplicates.map((d) => [d.example.id, d.duplicateOf])).toEqual([
      ['b', 'a'],
      ['d', 'a'],
    ]);
    expect(normaliseQuestion(' Ｗhat\tis 2+2?? ')).toBe('what is 2+2');
  });
});

describe('shuffle', () => {
  it('is a pure permutation: same (seed, epoch) → same order, input untouched', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer(), fc.nat(100), (items, seed, epoch) => {
        const copy = [...items];
        const a = shuffle(items, { seed, epoch });
        expect(items).toEqual(copy);
        expect(shuffle(items, { seed, epoch })).toEqual(a);
        expect([...a].sort((x, y) => x - y)).toEqual([...items].sort((x, y) => x - y));
      }),
    );
  });

  it('gives a different order for a new epoch or seed', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const base = shuffle(items, { seed: 1, epoch: 0 });
    expect(shuffle(items, { seed: 1, epoch: 1 })).not.toEqual(base);
    expect(shuffle(items, { seed: 2, epoch: 0 })).not.toEqual(base);
  });

  it('draws each of the 6 orders of 3 items about equally often', () => {
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 6000; seed++) {
      const key = shuffle(['a', 'b', 'c'], { seed }).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
});

describe('Rng', () => {
  it('is reproducible, resumable from its state, and uniform enough', () => {
    const a = new Rng(seedFrom('x', 1));
    const b = new Rng(seedFrom('x', 1));
    const first = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(first);
    const resumed = Rng.fromState(a.state);
    expect(resumed.next()).toBe(a.next());
    const rng = new Rng(7);
    const draws = Array.from({ length: 10_000 }, () => rng.int(1, 6));
    expect(draws.every((v) => v >= 1 && v <= 6)).toBe(true);
    const sum = draws.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum / 10_000 - 3.5)).toBeLessThan(0.06);
    expect(() => rng.int(3, 2)).toThrow(/min <= max/);
    expect(new Set(rng.sample([1, 2, 3, 4], 4)).size).toBe(4);
  });
});
