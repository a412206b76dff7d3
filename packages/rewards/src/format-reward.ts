import { assertRewardTags, defaultRewardTags } from './reward-tags.js';
import type { RewardTags } from './reward-tags.js';
import { assertArgsObject } from '@covrl/utils';

/** Arguments of {@link formatReward}. */
export interface FormatRewardArgs {
  /** The GENERATED text only (the prompt supplies `thinkOpen`), decoded, stop sequence included. */
  readonly text: string;
  /** Tag strings; default {@link defaultRewardTags}. */
  readonly tags?: RewardTags;
}

/** Non-overlapping occurrences of `needle` in `haystack` (needle non-empty). */
function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (
    let at = haystack.indexOf(needle);
    at >= 0;
    at = haystack.indexOf(needle, at + needle.length)
  ) {
    count += 1;
  }
  return count;
}

/**
 * RLPR's format reward on a FULL-SAMPLE response (arXiv 2506.18254, RLPR reference code; methods.md
 * §6 item 4): 1 iff, in the generated text,
 * - `thinkClose`, `answerOpen` and `answerClose` each occur exactly once,
 * - in that order (`thinkClose` before `answerOpen` before `answerClose`),
 * - `thinkOpen` does not occur (the prompt already supplied it), and
 * - the answer between `answerOpen` and `answerClose` is non-empty after trimming whitespace;
 * otherwise 0. Text after `answerClose` is not inspected (generation stops there).
 *
 * Used as `R = 0.9·debiasedReward + 0.1·formatReward` (the 0.1 weight is the trainer's).
 *
 * @throws Error naming the function and argument when `text` is not a string or a tag is empty.
 */
export function formatReward(args: FormatRewardArgs): 0 | 1 {
  assertArgsObject('formatReward', args);
  const { text, tags = defaultRewardTags } = args;
  if (typeof text !== 'string') {
    throw new Error(`formatReward: text must be a string, got ${typeof text}`);
  }
  assertRewardTags('formatReward', tags);
  const { thinkOpen, thinkClose, answerOpen, answerClose } = tags;
  if (countOccurrences(text, thinkOpen) !== 0) return 0;
  if (
    countOccurrences(text, thinkClose) !== 1 ||
    countOccurrences(text, answerOpen) !== 1 ||
    countOccurrences(text, answerClose) !== 1
  ) {
    return 0;
  }
  const thinkEnd = text.indexOf(thinkClose);
  const answerStart = text.indexOf(answerOpen);
  const answerEnd = text.indexOf(answerClose);
  if (!(
    thinkEnd + thinkClose.length <= answerStart && answerStart + answerOpen.length <= answerEnd
  )) {
    return 0;
  }
  return text.slice(answerStart + answerOpen.length, answerEnd).trim().length > 0 ? 1 : 0;
}
