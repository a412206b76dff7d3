import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endsWithIds, indexOfIds, sameIds, shortestPrefixReaching } from './ids.js';
import { greedyTokenizer } from './testing/index.js';

describe('id helpers', () => {
  it('endsWithIds, indexOfIds and sameIds', () => {
    expect(endsWithIds([1, 2, 3], [2, 3])).toBe(true);
    expect(endsWithIds([1, 2, 3], [])).toBe(false);
    expect(indexOfIds([1, 2, 1, 2], [1, 2], 1)).toBe(2);
    expect(indexOfIds([1, 2], [])).toBe(-1);
    expect(sameIds([1, 2], [1, 2])).toBe(true);
    expect(sameIds([1, 2], [1])).toBe(false);
  });

  it('shortestPrefixReaching equals a scan for the shortest prefix of ≥ target units (property)', () => {
    const tok = greedyTokenizer(['a', 'bb', 'ccc', 'dddd', '🙂', 'é']);
    const scan = (ids: number[], target: number): { k: number; decoded: string } | undefined => {
      for (let k = 1; k <= ids.length; k++) {
        const decoded = tok.decode(ids.slice(0, k));
        if (decoded.length >= target) return { k, decoded };
      }
      return undefined;
    };
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }),
        fc.integer({ min: 0, max: 80 }),
        (ids, target) => {
          expect(shortestPrefixReaching((x) => tok.decode(x), ids, target)).toEqual(
            scan(ids, target),
          );
        },
      ),
      { numRuns: 300, seed: 4 },
    );
    // Decodes O(log n) prefixes, not n.
    let calls = 0;
    const ids = Array.from({ length: 1024 }, () => 0);
    const found = shortestPrefixReaching(
      (x) => {
        calls++;
        return tok.decode(x);
      },
      ids,
      700,
    );
    expect(found?.k).toBe(700);
    expect(calls).toBeLessThanOrEqual(11);
  });
});
