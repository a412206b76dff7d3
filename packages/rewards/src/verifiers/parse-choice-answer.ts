import { assertOptionsObject, assertString } from '@covrl/utils';

// A bare letter: "B", "(B)", "b)", "B.", "B:".
const barePattern = /^\(?([a-j])\)?[.:)]?$/iu;
// A letter leading an option text: "B. text", "b) text", "(B) text", "B: text".
const leadingPattern = /^\(?([a-j])[).:]\s+\S/iu;
// A phrase naming the letter: "The answer is B", "answer: (b)", "Option C". Unparenthesised
// letters must be upper case so that "the answer is a cat" is not read as choice A.
const phrasePattern =
  /\b(?:[Aa]nswer|ANSWER|[Oo]ption|[Cc]hoice)\s*(?:[Ii][Ss])?\s*:?\s*(?:\(([a-jA-J])\)|([A-J]))(?![A-Za-z0-9])/u;

/** Arguments of {@link parseChoiceAnswer}. */
export interface ParseChoiceAnswerOptions {
  /** Accept only a bare letter (`B`, `(B)`, `b)`, `B.`); use for reference answers. Default false. */
  readonly bareOnly?: boolean;
}

/**
 * Reads a multiple-choice letter A–J from an answer, upper-cased: a bare letter (`B`, `(B)`, `b)`,
 * `B.`), a letter leading an option text (`B. Paris`, `(B) Paris`), or a phrase (`The answer is
 * B`, `answer: (b)`, `Option C`). Returns `undefined` when none applies.
 *
 * @throws Error naming `parseChoiceAnswer` and the argument when `answer` is not a string, or
 *   `options` is not an object or its `bareOnly` is not a boolean.
 */
export function parseChoiceAnswer(
  answer: string,
  options: ParseChoiceAnswerOptions = {},
): string | undefined {
  assertString('parseChoiceAnswer', 'answer', answer);
  assertOptionsObject('parseChoiceAnswer', 'options', options);
  if (options.bareOnly !== undefined && typeof options.bareOnly !== 'boolean') {
    throw new Error(
      `parseChoiceAnswer: options.bareOnly must be a boolean, got ${typeof options.bareOnly}`,
    );
  }
  const s = answer
    .trim()
    .replace(/^\$+|\$+$/gu, '')
    .trim();
  const bare = barePattern.exec(s) ?? (options.bareOnly === true ? null : leadingPattern.exec(s));
  if (bare !== null) return bare[1]?.toUpperCase();
  if (options.bareOnly === true) return undefined;
  const phrase = phrasePattern.exec(s);
  if (phrase === null) return undefined;
  return (phrase[1] ?? phrase[2])?.toUpperCase();
}
