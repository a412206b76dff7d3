import { formatReward } from '../format-reward.js';
import { assertRewardTags, defaultRewardTags } from '../reward-tags.js';
import type { RewardTags } from '../reward-tags.js';
import { extractAnswer } from './extract-answer.js';
import { verifiers, verifierNames } from './verifiers.js';
import type { VerifierName } from './verifiers.js';
import { assertArgsObject } from '@covrl/utils';
import { assertTolerance } from './tolerance.js';

/** Arguments of {@link verifyAnswer}. */
export interface VerifyAnswerArgs {
  /** Generated FULL-SAMPLE text (after the prompt's `thinkOpen`), stop sequence included. */
  readonly text: string;
  /** The reference answer. */
  readonly reference: string;
  /** Tag strings; default {@link defaultRewardTags}. */
  readonly tags?: RewardTags;
  /** Which rule decides correctness; default `'auto'`. */
  readonly verifier?: VerifierName;
  /** Relative numeric tolerance; default 1e-6. */
  readonly tolerance?: number;
}

/** Result of {@link verifyAnswer}. */
export interface VerifyAnswerResult {
  /** The extracted answer ({@link extractAnswer}), `undefined` if none could be extracted. */
  readonly extracted: string | undefined;
  /** An answer was extracted and the verifier judged it equal to the reference. */
  readonly correct: boolean;
  /** {@link formatReward} of the text is 1 (RLPR format rule, methods.md §6 item 4). */
  readonly formatValid: boolean;
}

/**
 * Evaluates one generated response against a reference (methods.md §1 rule 5 and §6): extracts
 * the answer, verifies it with the named rule and checks the format. `correct` does not require
 * `formatValid`; a strict reward is `correct && formatValid`.
 *
 * @throws Error naming the function and argument for a non-string `text`/`reference`, an empty
 * tag, an unknown `verifier` or a bad `tolerance`.
 */
export function verifyAnswer(args: VerifyAnswerArgs): VerifyAnswerResult {
  assertArgsObject('verifyAnswer', args);
  const { text, reference, tags = defaultRewardTags, verifier = 'auto', tolerance } = args;
  if (typeof text !== 'string') {
    throw new Error(`verifyAnswer: text must be a string, got ${typeof text}`);
  }
  if (typeof reference !== 'string') {
    throw new Error(`verifyAnswer: reference must be a string, got ${typeof reference}`);
  }
  assertRewardTags('verifyAnswer', tags);
  // Checked here so the message names this function, not the verifier it delegates to.
  assertTolerance('verifyAnswer', tolerance);
  if (!Object.prototype.hasOwnProperty.call(verifiers, verifier)) {
    throw new Error(
      `verifyAnswer: verifier '${String(verifier)}' is unknown; use one of ${verifierNames.join(', ')}`,
    );
  }
  const extracted = extractAnswer({ text, tags });
  const correct =
    extracted !== undefined &&
    verifiers[verifier](
      tolerance === undefined
        ? { predicted: extracted, reference }
        : { predicted: extracted, reference, tolerance },
    );
  return { extracted, correct, formatValid: formatReward({ text, tags }) === 1 };
}
