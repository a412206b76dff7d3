import { assertRewardTags, defaultRewardTags } from '../reward-tags.js';
import type { RewardTags } from '../reward-tags.js';
import { assertArgsObject } from '@covrl/utils';

/** Arguments of {@link extractAnswer}. */
export interface ExtractAnswerArgs {
  /** Generated text (FULL-SAMPLE response), including the `answerClose` stop sequence. */
  readonly text: string;
  /** Tag strings; default {@link defaultRewardTags}. */
  readonly tags?: RewardTags;
  /**
   * When true, an `answerOpen` with no later `answerClose` yields the rest of the text (for decoders
   * that strip the stop sequence). Default false: the rule of methods.md §1 requires the close tag.
   */
  readonly allowUnclosed?: boolean;
}

/**
 * The model's own answer (methods.md §1 rule 5, extraction rule [OURS]): the text between the first
 * `answerOpen` after the first `thinkClose` and the next `answerClose`, trimmed. If the text holds no
 * `thinkClose` the search starts at the beginning (the first `answerOpen` anywhere). Returns
 * `undefined` when there is no such `answerOpen`, or no `answerClose` after it (unless
 * `allowUnclosed`). An empty answer is returned as `''`.
 *
 * @throws Error naming the function and argument when `text` is not a string or a tag is empty.
 */
export function extractAnswer(args: ExtractAnswerArgs): string | undefined {
  assertArgsObject('extractAnswer', args);
  const { text, tags = defaultRewardTags, allowUnclosed = false } = args;
  if (typeof text !== 'string') {
    throw new Error(`extractAnswer: text must be a string, got ${typeof text}`);
  }
  assertRewardTags('extractAnswer', tags);
  const thinkEnd = text.indexOf(tags.thinkClose);
  const searchFrom = thinkEnd >= 0 ? thinkEnd + tags.thinkClose.length : 0;
  const open = text.indexOf(tags.answerOpen, searchFrom);
  if (open < 0) return undefined;
  const start = open + tags.answerOpen.length;
  const close = text.indexOf(tags.answerClose, start);
  if (close < 0) return allowUnclosed ? text.slice(start).trim() : undefined;
  return text.slice(start, close).trim();
}
