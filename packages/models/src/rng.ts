/**
 * A small seeded pseudo-random generator (mulberry32) whose whole state is one 32-bit integer, so
 * it can be saved in a checkpoint and restored exactly. Used for weight initialisation and for
 * per-row sampling in `generate`.
 *
 * Source: mulberry32 by Tommy Ettinger (public domain); seed mixing with the splitmix32 finaliser.
 */

/** A seeded generator of uniform and normal numbers with a restorable state. */
export interface Rng {
  /** Uniform float in `[0, 1)` (32 random bits). */
  next(): number;
  /** Standard normal N(0, 1) (Box–Muller; consumes two uniforms). */
  normal(): number;
  /** The generator's whole state (an unsigned 32-bit integer). */
  getState(): number;
  /** Restore a state returned by {@link Rng.getState}. */
  setState(state: number): void;
}

/** splitmix32 finaliser: spreads nearby seeds (0, 1, 2, …) to unrelated states. */
function mixSeed(seed: number): number {
  let z = (seed + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Create a mulberry32 generator from an integer seed.
 * @throws Error when `seed` is not a finite integer.
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) {
    throw new Error(`createRng: seed must be an integer, got ${String(seed)}`);
  }
  let state = mixSeed(seed >>> 0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal(): number {
      // Box–Muller; 1 − u keeps the log argument in (0, 1].
      const u1 = 1 - next();
      const u2 = next();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
    getState: () => state,
    setState(s: number): void {
      if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
        throw new Error(`Rng.setState: state must be an unsigned 32-bit integer, got ${String(s)}`);
      }
      state = s >>> 0;
    },
  };
}
