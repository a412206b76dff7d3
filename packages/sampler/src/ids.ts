/**
 * Small pure helpers on token-id arrays (stop detection and tag search run on ids, methods.md §2).
 *
 * @packageDocumentation
 */

/** True when `ids` ends with the non-empty sequence `suffix`. */
export function endsWithIds(ids: readonly number[], suffix: readonly number[]): boolean {
  if (suffix.length === 0 || suffix.length > ids.length) return false;
  const offset = ids.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) {
    if (ids[offset + i] !== suffix[i]) return false;
  }
  return true;
}

/**
 * Index of the first occurrence of the non-empty sequence `needle` in `ids` at or after `from`,
 * or -1.
 */
export function indexOfIds(ids: readonly number[], needle: readonly number[], from = 0): number {
  if (needle.length === 0) return -1;
  for (let start = Math.max(0, from); start + needle.length <= ids.length; start++) {
    let match = true;
    for (let i = 0; i < needle.length; i++) {
      if (ids[start + i] !== needle[i]) {
        match = false;
        break;
      }
    }
    if (match) return start;
  }
  return -1;
}

/** True when two id arrays are equal element-wise. */
export function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * The shortest prefix of `ids` whose decoding has at least `target` UTF-16 units: the smallest
 * `k` in `[1, ids.length]` with `decode(ids[0:k]).length ≥ target`, with that decoding; undefined
 * when the whole sequence decodes shorter (or `ids` is empty).
 *
 * Binary search, O(log n) decodes of at most n ids instead of the n decodes of a scan (a
 * 1000-token response on Qwen3's tokenizer: hundreds of milliseconds per row by scan). It relies
 * on the decoded length never decreasing as ids are appended, which holds for decoders that only
 * concatenate token pieces (byte-level BPE, where an incomplete UTF-8 character decodes to one
 * U+FFFD until the token completing it arrives; character and WordPiece vocabularies), but not
 * for a decode with space clean-up (`' .'` → `'.'`), which a splicing tokenizer must not use.
 */
export function shortestPrefixReaching(
  decode: (ids: readonly number[]) => string,
  ids: readonly number[],
  target: number,
): { k: number; decoded: string } | undefined {
  let lo = 1;
  let hi = ids.length;
  let found: { k: number; decoded: string } | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const decoded = decode(ids.slice(0, mid));
    if (decoded.length >= target) {
      found = { k: mid, decoded };
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}
