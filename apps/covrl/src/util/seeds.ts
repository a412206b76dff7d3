/**
 * Seeds derived from the run seed: data order, sampling and evaluation are pure functions of
 * (seed, step, purpose), which is what makes N straight steps equal k steps + resume + N − k.
 */

/** 32-bit mix of integers (splitmix32 finaliser): per-step and per-purpose seeds. */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
