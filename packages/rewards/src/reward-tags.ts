/**
 * The tag strings the rewards and verifiers look for. Tags are configuration, never literals in
 * code (methods.md §1): switching to the `<thinking>` variant changes every check at once. Any
 * object with these four string fields works, so a sampler's larger template config can be passed
 * as is.
 */
export interface RewardTags {
  /** Default `<think>`; supplied by the prompt, so it must NOT occur in generated text. */
  readonly thinkOpen: string;
  /** Default `</think>`. */
  readonly thinkClose: string;
  /** Default `<answer>`. */
  readonly answerOpen: string;
  /** Default `</answer>`. */
  readonly answerClose: string;
}

/** The default tags of methods.md §1 (RLPR's R1-style format). */
export const defaultRewardTags: RewardTags = Object.freeze({
  thinkOpen: '<think>',
  thinkClose: '</think>',
  answerOpen: '<answer>',
  answerClose: '</answer>',
});

/** Throws `Error('<functionName>: tags.<key> ...')` unless every tag is a non-empty string. */
export function assertRewardTags(functionName: string, tags: unknown): asserts tags is RewardTags {
  if (typeof tags !== 'object' || tags === null) {
    throw new Error(
      `${functionName}: tags must be an object { thinkOpen, thinkClose, answerOpen, answerClose }`,
    );
  }
  for (const key of ['thinkOpen', 'thinkClose', 'answerOpen', 'answerClose'] as const) {
    const value: unknown = (tags as Record<string, unknown>)[key];
    if (typeof value !== 'string' || value.length === 0) {
      throw new Error(
        `${functionName}: tags.${key} must be a non-empty string, got ${JSON.stringify(value)}`,
      );
    }
  }
}
