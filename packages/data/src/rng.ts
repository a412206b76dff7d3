/**
 * A small seeded PRNG for the generators, shuffles and corpus builder.
 *
 * mulberry32 (Tommy Ettinger, public domain; https://gist.github.com/tommyettinger/46a874533244883189143505d203312c):
 * 32-bit state, advanced by the Weyl increment 0x6D2B79F5, output mixed by two multiply-xorshift
 * rounds. Not cryptographic; its only job is fast, reproducible streams whose state fits in a
 * checkpoint (`state` / `Rng.fromState`).
 */
export class Rng {
  private s: number;

  /** Seed with any number; it is reduced to 32 bits (`seed >>> 0`). */
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Resume a stream from a saved {@link Rng.state}. */
  static fromState(state: number): Rng {
    return new Rng(state);
  }

  /** The 32-bit state; `Rng.fromState(rng.state)` continues the same stream. */
  get state(): number {
    return this.s;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Next uniform float in [0, 1) (32 bits of resolution). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [min, max] (both inclusive). Throws when `max < min` or either is not an integer. */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new Error(`Rng.int: need integers min <= max, got min=${min}, max=${max}`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A uniformly chosen element. Throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: items is empty; pass at least one item');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `true` with probability `p` (`p <= 0`: never, `p >= 1`: always). */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** `count` distinct elements in random order (partial Fisher-Yates on a copy). */
  sample<T>(items: readonly T[], count: number): T[] {
    if (count > items.length) {
      throw new Error(`Rng.sample: count ${count} exceeds items.length ${items.length}`);
    }
    const copy = [...items];
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.next() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, count);
  }
}
