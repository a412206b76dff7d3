import { assertArgsObject } from '@covrl/utils';
/** Arguments of {@link repetitionPenalty}. */
export interface RepetitionPenaltyArgs {
  /** The decoded response. */
  readonly text: string;
  /** Words per window; default 10 (RLPR reference code). */
  readonly windowWords?: number;
  /** A window occurring at least this many times triggers the penalty; default 10 (RLPR). */
  readonly minRepeats?: number;
}

/**
 * RLPR's repetition penalty (arXiv 2506.18254, RLPR reference code; methods.md §6 item 5): split
 * the decoded response on runs of whitespace and `_` (empty pieces dropped), slide a window of
 * `windowWords` consecutive words over it, and return −1 if any window (counted with overlaps)
 * occurs at least `minRepeats` times, else 0. Texts shorter than one window return 0.
 *
 * Cost O(W·windowWords) time and memory for W words: each window is counted in one `Map` under
 * the JSON text of its words (an injective key, whatever characters the words hold), and the scan
 * stops at the first window that reaches `minRepeats`.
 *
 * @throws Error naming the function and argument when `text` is not a string or `windowWords` /
 * `minRepeats` is not a positive integer.
 */
export function repetitionPenalty(args: RepetitionPenaltyArgs): 0 | -1 {
  assertArgsObject('repetitionPenalty', args);
  const { text, windowWords = 10, minRepeats = 10 } = args;
  if (typeof text !== 'string') {
    throw new Error(`repetitionPenalty: text must be a string, got ${typeof text}`);
  }
  if (!Number.isInteger(windowWords) || windowWords < 1) {
    throw new Error(
      `repetitionPenalty: windowWords must be a positive integer, got ${windowWords}`,
    );
  }
  if (!Number.isInteger(minRepeats) || minRepeats < 1) {
    throw new Error(`repetitionPenalty: minRepeats must be a positive integer, got ${minRepeats}`);
  }
  const words = text.split(/[\s_]+/u).filter((w) => w.length > 0);
  const counts = new Map<string, number>();
  for (let start = 0; start + windowWords <= words.length; start += 1) {
    const key = JSON.stringify(words.slice(start, start + windowWords));
    const count = (counts.get(key) ?? 0) + 1;
    if (count >= minRepeats) return -1;
    counts.set(key, count);
  }
  return 0;
}
