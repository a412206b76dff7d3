/**
 * `ordering`: sort a few named items by stated values and name the one at a given rank, or a day
 * puzzle (which weekday is N days after D). Level 1: 3 items / N ≤ 6; level 2: 4 items, rank ≤ 2
 * / N 8..20; level 3: 5 items, rank ≤ 3 / N 21..99.
 */
import { at, defineFamily, normaliseWord } from './define.js';
import { NAMES } from './names.js';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const UNITS = ['coins', 'cards', 'apples', 'points'] as const;
const ORDINALS = ['', '2nd ', '3rd '] as const;

type Problem =
  | {
      readonly kind: 'rank';
      /** Names in the order stated, with their values. */
      readonly items: readonly { readonly name: string; readonly value: number }[];
      readonly unit: string;
      /** 1-based rank from the most. */
      readonly rank: number;
    }
  | { readonly kind: 'day'; readonly start: number; readonly days: number };

const dayAfter = (start: number, days: number): string => at(DAYS, (start + days) % 7);

/** The `ordering` family (non-math): see the module comment for levels, trace and noise. */
export const ordering = defineFamily<Problem>({
  name: 'ordering',
  domain: 'non-math',
  description: 'rank named items by stated values, or which weekday is N days after D',
  sample(rng, difficulty) {
    if (rng.next() < 0.5) {
      const n = difficulty + 2;
      const names = rng.sample(NAMES, n);
      const values = rng.sample(
        [...Array(difficulty === 3 ? 99 : 20).keys()].map((v) => v + 1),
        n,
      );
      return {
        kind: 'rank',
        items: names.map((name, i) => ({ name, value: at(values, i) })),
        unit: rng.pick(UNITS),
        rank: rng.int(1, difficulty),
      };
    }
    const days =
      difficulty === 1 ? rng.int(1, 6) : difficulty === 2 ? rng.int(8, 20) : rng.int(21, 99);
    return { kind: 'day', start: rng.int(0, 6), days };
  },
  question(p) {
    if (p.kind === 'day') {
      return `Today is ${at(DAYS, p.start)}. What day is it in ${p.days} days?`;
    }
    const stated = p.items.map(({ name, value }, i) =>
      i === 0 ? `${name} has ${value} ${p.unit}` : `${name} has ${value}`,
    );
    return `${stated.join(', ')}. Who has the ${at(ORDINALS, p.rank - 1)}most?`;
  },
  answer(p) {
    if (p.kind === 'day') return dayAfter(p.start, p.days);
    const sorted = [...p.items].sort((a, b) => b.value - a.value);
    return at(sorted, p.rank - 1).name;
  },
  parse(question) {
    const day = /^Today is (\w+)\. What day is it in (\d+) days\?$/.exec(question);
    if (day !== null) {
      const start = DAYS.indexOf(day[1] as (typeof DAYS)[number]);
      return start < 0 ? undefined : { kind: 'day', start, days: Number(day[2]) };
    }
    const rank = /^(.*)\. Who has the (|2nd |3rd )most\?$/.exec(question);
    if (rank === null) return undefined;
    const unit = /^\w+ has \d+ (\w+)/.exec(rank[1] as string)?.[1];
    const items = [...(rank[1] as string).matchAll(/(\w+) has (\d+)/g)].map((m) => ({
      name: m[1] as string,
      value: Number(m[2]),
    }));
    if (unit === undefined || items.length < 2) return undefined;
    return {
      kind: 'rank',
      items,
      unit,
      rank: ORDINALS.indexOf(rank[2] as (typeof ORDINALS)[number]) + 1,
    };
  },
  steps: (p) => (p.kind === 'rank' ? 1 : p.days < 7 ? p.days : 1 + (p.days % 7)),
  trace(p, wrongStep) {
    if (p.kind === 'rank') {
      const sorted = [...p.items].sort((a, b) => b.value - a.value);
      if (wrongStep !== undefined) {
        // One wrong step: the item at the asked rank is swapped with a neighbour.
        const i = p.rank - 1;
        const j = i + 1 < sorted.length ? i + 1 : i - 1;
        [sorted[i], sorted[j]] = [at(sorted, j), at(sorted, i)];
      }
      const finalAnswer = at(sorted, p.rank - 1).name;
      const listed = sorted.map(({ name, value }) => `${name} ${value}`).join(', ');
      return {
        trace: `${listed}; ${at(ORDINALS, p.rank - 1) || '1st '}is ${finalAnswer}`,
        finalAnswer,
      };
    }
    // Walk the days one at a time; for N ≥ 7 first drop whole weeks (`20=14+6`). A wrong step
    // either gets the remainder off by one or skips a day while walking; the walk goes on from
    // the written day.
    const weeks = p.days >= 7;
    const offset = weeks ? 1 : 0;
    let rest = p.days % 7;
    const parts: string[] = [];
    if (weeks) {
      if (wrongStep === 0) rest = rest === 6 ? 5 : rest + 1;
      parts.push(`${p.days}=${p.days - (p.days % 7)}+${rest}`);
    } else {
      rest = p.days;
    }
    let day = p.start;
    const walk: string[] = [];
    for (let k = 0; k < rest; k++) {
      day += wrongStep === k + offset ? 2 : 1;
      walk.push(at(DAYS, day % 7));
    }
    const finalAnswer = at(DAYS, day % 7);
    parts.push(`${at(DAYS, p.start)}+${rest}: ${walk.length > 0 ? walk.join(' ') : finalAnswer}`);
    return { trace: `${parts.join(', ')}, so ${finalAnswer}`, finalAnswer };
  },
  normalise: normaliseWord,
});
