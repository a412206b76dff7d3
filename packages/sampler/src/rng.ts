/**
 * Tiny seeded random number generators: everything random in the sampler is a pure function of a
 * seed, so a training step can be replayed exactly (conventions: "data order is a pure function of
 * (seed, step)").
 *
 * @packageDocumentation
 */

/**
 * Mulberry32 (Tommy Ettinger, public domain): a 32-bit state generator returning floats in
 * `[0, 1)`. Good enough for Bernoulli template draws; not for cryptography.
 *
 * @param seed - any finite number; it is reduced to an unsigned 32-bit integer.
 * @returns a function returning the next float in `[0, 1)` on every call.
 */
export function mulberry32(seed: number): () => number {
  if (!Number.isFinite(seed)) {
    throw new Error(`mulberry32: seed must be a finite number, got ${String(seed)}`);
  }
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Derives an independent unsigned 32-bit seed for row `row` of a batch from a base seed, with the
 * 32-bit finaliser of MurmurHash3 (fmix32) applied to `seed ⊕ (row·φ32)`; φ32 = 0x9e3779b9 is the
 * golden-ratio increment of splitmix. Pure: the same `(seed, row)` always gives the same value, and
 * neighbouring rows get decorrelated seeds.
 *
 * @param seed - base seed (finite number; reduced to uint32).
 * @param row - row index (non-negative integer).
 */
export function deriveSeed(seed: number, row: number): number {
  if (!Number.isFinite(seed)) {
    throw new Error(`deriveSeed: seed must be a finite number, got ${String(seed)}`);
  }
  if (!Number.isInteger(row) || row < 0) {
    throw new Error(`deriveSeed: row must be a non-negative integer, got ${String(row)}`);
  }
  let h = ((seed >>> 0) ^ Math.imul(row + 1, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
