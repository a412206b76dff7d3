/**
 * One seeded pseudo-random generator for every covrl package: mulberry32 (Tommy Ettinger, public
 * domain), a 32-bit state advanced by the Weyl increment `0x6D2B79F5` and mixed by two
 * multiply-xorshift rounds. Its whole state is one unsigned 32-bit integer, so a stream can be
 * saved in a checkpoint and resumed exactly. Not cryptographic; its job is fast, reproducible
 * streams: data order, synthetic tasks, weight initialisation, per-row sampling, template draws.
 *
 * Seeding: `new SeededRng(seed)` and {@link mulberry32} start from `seed >>> 0` as given;
 * {@link createRng} first spreads the seed with the splitmix32 finaliser ({@link mixSeed}) so that
 * nearby seeds (0, 1, 2, …) start unrelated streams. The two are different streams of the same
 * generator and each is kept exactly as the packages used it (pinned numbers depend on them).
 */

/** One mulberry32 step: the next state and its 32-bit output. */
function step(state: number): [next: number, output: number] {
  const s = (state + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [s, (t ^ (t >>> 14)) >>> 0];
}

/** 2³², the divisor mapping a 32-bit output to a float in `[0, 1)`. */
const TWO_POW_32 = 4294967296;

/** A mulberry32 stream with a restorable state and the usual draws. */
export class SeededRng {
  private s: number;

  /** Seed with any number; it is reduced to 32 bits (`seed >>> 0`), no mixing. */
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Resume a stream from a saved {@link SeededRng.getState}. */
  static fromState(state: number): SeededRng {
    const rng = new SeededRng(0);
    rng.setState(state);
    return rng;
  }

  /** The whole 32-bit state; `SeededRng.fromState(rng.getState())` continues the same stream. */
  getState(): number {
    return this.s;
  }

  /**
   * Restore a state returned by {@link SeededRng.getState}.
   * @throws Error when `state` is not an unsigned 32-bit integer.
   */
  setState(state: number): void {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) {
      throw new Error(
        `Rng.setState: state must be an unsigned 32-bit integer, got ${String(state)}`,
      );
    }
    this.s = state >>> 0;
  }

  /** The state, as a property (same value as {@link SeededRng.getState}). */
  get state(): number {
    return this.s;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const [s, out] = step(this.s);
    this.s = s;
    return out;
  }

  /** Next uniform float in `[0, 1)` (32 bits of resolution). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Standard normal N(0, 1) by Box–Muller (consumes two uniforms; `1 − u` keeps `log`'s argument in (0, 1]). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform integer in `[min, max]` (both inclusive). Throws when `max < min` or either is not an integer. */
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

  /** `count` distinct elements in random order (partial Fisher–Yates on a copy). */
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

/**
 * splitmix32 finaliser: spreads nearby seeds (0, 1, 2, …) to unrelated 32-bit states.
 * @param seed - any number; only its low 32 bits matter.
 */
export function mixSeed(seed: number): number {
  let z = (seed + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A {@link SeededRng} whose start state is `mixSeed(seed >>> 0)` (weight initialisation and
 * per-row sampling in `@covrl/models`).
 * @throws Error when `seed` is not an integer.
 */
export function createRng(seed: number): SeededRng {
  if (!Number.isInteger(seed)) {
    throw new Error(`createRng: seed must be an integer, got ${String(seed)}`);
  }
  return SeededRng.fromState(mixSeed(seed >>> 0));
}

/**
 * The bare uniform stream of a {@link SeededRng} seeded with `seed >>> 0`: a function returning the
 * next float in `[0, 1)` on every call.
 * @throws Error when `seed` is not a finite number.
 */
export function mulberry32(seed: number): () => number {
  if (!Number.isFinite(seed)) {
    throw new Error(`mulberry32: seed must be a finite number, got ${String(seed)}`);
  }
  const rng = new SeededRng(seed);
  return () => rng.next();
}

/**
 * Derives an independent unsigned 32-bit seed for row `row` of a batch from a base seed, with the
 * 32-bit finaliser of MurmurHash3 (fmix32) applied to `seed ⊕ ((row + 1)·φ32)`; φ32 = 0x9e3779b9 is
 * the golden-ratio increment of splitmix. Pure: the same `(seed, row)` always gives the same value,
 * and neighbouring rows get decorrelated seeds.
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
