import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { broadcastShapes, broadcastSourceIndices } from './blas-batch-mat-mul.js';

/** Naive oracle: unravel the output index, clamp broadcast axes to 0, ravel in the input shape. */
function naiveSource(outShape: number[], inShape: number[], flat: number): number {
  const coords: number[] = [];
  let rest = flat;
  for (let axis = outShape.length - 1; axis >= 0; axis -= 1) {
    const size = outShape[axis] ?? 1;
    coords.unshift(rest % size);
    rest = Math.floor(rest / size);
  }
  let source = 0;
  const offset = outShape.length - inShape.length;
  for (let axis = 0; axis < inShape.length; axis += 1) {
    const size = inShape[axis] ?? 1;
    const coord = size === 1 ? 0 : (coords[axis + offset] ?? 0);
    source = source * size + coord;
  }
  return source;
}

describe('broadcastShapes', () => {
  it('broadcasts right-aligned with size-1 stretching, and rejects mismatches', () => {
    expect(broadcastShapes([2, 1], [1, 3])).toEqual([2, 3]);
    expect(broadcastShapes([4], [])).toEqual([4]);
    expect(broadcastShapes([], [5, 2])).toEqual([5, 2]);
    expect(broadcastShapes([2, 3], [3])).toEqual([2, 3]);
    expect(broadcastShapes([2, 3], [2])).toBeNull();
  });
});

describe('broadcastSourceIndices', () => {
  it('hand-computed: batch [2,3] read by an operand of batch [2,1] and one of batch [3]', () => {
    expect([...broadcastSourceIndices([2, 3], [2, 1])]).toEqual([0, 0, 0, 1, 1, 1]);
    expect([...broadcastSourceIndices([2, 3], [3])]).toEqual([0, 1, 2, 0, 1, 2]);
    expect([...broadcastSourceIndices([2, 3], [])]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('matches the unravel/ravel oracle on random broadcastable shapes', () => {
    const dims = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });
    fc.assert(
      fc.property(
        dims,
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.nat(4),
        (outShape, ones, drop) => {
          const kept = outShape.slice(Math.min(drop, outShape.length));
          const inShape = kept.map((size, axis) => (ones[axis] === true ? 1 : size));
          const got = broadcastSourceIndices(outShape, inShape);
          const total = outShape.reduce((p, s) => p * s, 1);
          expect(got.length).toBe(total);
          for (let flat = 0; flat < total; flat += 1) {
            expect(got[flat]).toBe(naiveSource(outShape, inShape, flat));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
