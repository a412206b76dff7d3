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
