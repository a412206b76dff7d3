/**
 * Fixed, dependency-free string hashes: stable across platforms and releases, so splits and
 * derived seeds never move.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a 32-bit over the UTF-8 bytes of `text` (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/):
 * `h = offset; for each byte b: h = (h xor b) * prime mod 2^32`. `seed` replaces the offset basis
 * when given (a distinct seed gives an independent-looking second hash).
 */
export function fnv1a32(text: string, seed: number = FNV_OFFSET): number {
  let h = seed >>> 0;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

/** A 64-bit hex digest made of two FNV-1a 32-bit hashes with different bases (for ids). */
export function hash64Hex(text: string): string {
  const a = fnv1a32(text);
  const b = fnv1a32(text, 0x9e3779b9);
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/**
 * Derive a 32-bit seed from parts (`seedFrom('addition', 2, 7)`): FNV-1a of the parts joined by
 * `|`, then a murmur3 finaliser so nearby inputs give unrelated seeds.
 */
export function seedFrom(...parts: readonly (string | number)[]): number {
  let h = fnv1a32(parts.join('|'));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
