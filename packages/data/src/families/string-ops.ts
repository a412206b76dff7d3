/**
 * `string-ops`: reverse, sort the letters of, count one letter in, or take every 2nd letter of a
 * short random lowercase word. Word length 4 (level 1), 5-6 (level 2), 7-8 (level 3); answers
 * are at most 8 characters.
 */
import { at, defineFamily, normaliseWord } from './define.js';
import type { Rng } from '../rng.js';

type Op = 'reverse' | 'sort' | 'count' | 'every2';

interface Problem {
  readonly op: Op;
  readonly word: string;
  /** The counted letter (op `count`). */
  readonly letter: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';

function otherLetter(rng: Rng, not: string): string {
  for (;;) {
    const c = rng.pick([...ALPHABET]);
    if (c !== not) return c;
  }
}

function solve({ op, word, letter }: Problem): string {
  const chars = [...word];
  switch (op) {
    case 'reverse':
      return chars.reverse().join('');
    case 'sort':
      return chars.sort().join('');
    case 'count':
      return String(chars.filter((c) => c === letter).length);
    case 'every2':
      return chars.filter((_, i) => i % 2 === 1).join('');
  }
}

/** The `string-ops` family (non-math): see the module comment for levels, trace and noise. */
export const stringOps = defineFamily<Problem>({
  name: 'string-ops',
  domain: 'non-math',
  description: 'reverse / sort letters / count a letter / every 2nd letter of a short word',
  sample(rng, difficulty) {
    const length = difficulty === 1 ? 4 : difficulty === 2 ? rng.int(5, 6) : rng.int(7, 8);
    const op = rng.pick(['reverse', 'sort', 'count', 'every2'] as const);
    const chars = [...Array(length)].map(() => rng.pick([...ALPHABET]));
    let letter = 'a';
    if (op === 'count') {
      // The counted letter occurs 0..3 times, so counting is not always "1".
      letter = rng.pick([...ALPHABET]);
      const times = rng.int(0, Math.min(3, length - 1));
      for (let i = 0; i < length; i++) if (chars[i] === letter) chars[i] = otherLetter(rng, letter);
      for (const i of rng.sample([...Array(length).keys()], times)) chars[i] = letter;
    }
    return { op, word: chars.join(''), letter };
  },
  question({ op, word, letter }) {
    switch (op) {
      case 'reverse':
        return `Reverse the letters of ${word}.`;
      case 'sort':
        return `Sort the letters of ${word}.`;
      case 'count':
        return `How many ${letter} in ${word}?`;
      case 'every2':
        return `Take every 2nd letter of ${word}.`;
    }
  },
  answer: solve,
  parse(question) {
    let m = /^Reverse the letters of ([a-z]+)\.$/.exec(question);
    if (m !== null) return { op: 'reverse', word: m[1] as string, letter: 'a' };
    m = /^Sort the letters of ([a-z]+)\.$/.exec(question);
    if (m !== null) return { op: 'sort', word: m[1] as string, letter: 'a' };
    m = /^How many ([a-z]) in ([a-z]+)\?$/.exec(question);
    if (m !== null) return { op: 'count', word: m[2] as string, letter: m[1] as string };
    m = /^Take every 2nd letter of ([a-z]+)\.$/.exec(question);
    if (m !== null) return { op: 'every2', word: m[1] as string, letter: 'a' };
    return undefined;
  },
  steps: (p) => (p.op === 'count' ? p.word.length : Math.max(1, solve(p).length)),
  trace(p, wrongStep, rng) {
    const chars = [...p.word];
    if (p.op === 'count') {
      // Running count after each letter: `b0 a1 n1 a2`; a wrong step miscounts by one and the
      // count carries on from the written value.
      let count = 0;
      const parts = chars.map((c, i) => {
        count += c === p.letter ? 1 : 0;
        if (i === wrongStep) count += c === p.letter || count === 0 ? 1 : -1;
        return `${c}${count}`;
      });
      return { trace: `${parts.join(' ')}, so ${count}`, finalAnswer: String(count) };
    }
    const out = [...solve(p)];
    if (wrongStep !== undefined && out.length > 0)
      out[wrongStep] = otherLetter(rng, at(out, wrongStep));
    const finalAnswer = out.join('');
    const spaced = out.join(' ');
    switch (p.op) {
      case 'reverse':
        return { trace: `${chars.join(' ')} backwards: ${spaced}`, finalAnswer };
      case 'sort':
        return { trace: `${chars.join(' ')} in order: ${spaced}`, finalAnswer };
      default:
        return {
          trace: `${chars.map((c, i) => `${i + 1}${c}`).join(' ')}, even: ${spaced}`,
          finalAnswer,
        };
    }
  },
  normalise: normaliseWord,
});
