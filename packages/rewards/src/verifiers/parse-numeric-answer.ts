import { assertString } from '@covrl/utils';
import { normalizeAnswer } from './normalize-answer.js';

// Sign, integer part (plain digits or 1-3 digits then groups of ",ddd"), optional decimals,
// optional exponent; or a bare ".5". Unicode minus U+2212 is mapped to "-" first.
const numberPattern = /^[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/u;

/**
 * Parses a plain number answer: integers, decimals (`0.75`, `.5`, `3.`), thousands separators in
 * groups of three (`1,234,567.5`; `1,23` is rejected), a leading `+`/`-`/`−`, scientific notation
 * (`1.5e-3`, `2E+10`), after {@link normalizeAnswer} (so `$-42$.` parses). Returns `undefined` for
 * anything else (fractions: see `parseRationalAnswer`; units, `%`, words are not numbers here).
 *
 * @throws Error naming `parseNumericAnswer` and `answer` when `answer` is not a string.
 */
export function parseNumericAnswer(answer: string): number | undefined {
  assertString('parseNumericAnswer', 'answer', answer);
  const s = normalizeAnswer(answer).replace(/\u2212/gu, '-');
  if (!numberPattern.test(s)) return undefined;
  const value = Number(s.replace(/,/gu, ''));
  return Number.isFinite(value) ? value : undefined;
}
