import { assertString } from '@covrl/utils';
import { normalizeAnswer } from './normalize-answer.js';
import { parseNumericAnswer } from './parse-numeric-answer.js';

/**
 * Parses a fraction or a plain number to its value: `3/4`, `-3/4`, `\frac{3}{4}`, `\dfrac{3}{4}`,
 * `\tfrac{3}{4}`, `-\frac{3}{4}`, the short `\frac34`, or anything {@link parseNumericAnswer}
 * accepts. Numerator and denominator may themselves be numbers (`1.5/3`). A zero denominator gives
 * `undefined`, as does anything else.
 *
 * @throws Error naming `parseRationalAnswer` and `answer` when `answer` is not a string.
 */
export function parseRationalAnswer(answer: string): number | undefined {
  assertString('parseRationalAnswer', 'answer', answer);
  const s = normalizeAnswer(answer)
    .replace(/\u2212/gu, '-')
    .replace(/\s+/gu, '');
  const latex =
    /^([+-]?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$/u.exec(s) ??
    /^([+-]?)\\[dt]?frac(\d)(\d)$/u.exec(s);
  const slash = latex === null ? /^([+-]?)([^/]+)\/([^/]+)$/u.exec(s) : null;
  const parts = latex ?? slash;
  if (parts === null) return parseNumericAnswer(s);
  const [, sign, numeratorText, denominatorText] = parts;
  const numerator = parseNumericAnswer(numeratorText ?? '');
  const denominator = parseNumericAnswer(denominatorText ?? '');
  if (numerator === undefined || denominator === undefined || denominator === 0) return undefined;
  const value = numerator / denominator;
  return sign === '-' ? -value : value;
}
