/**
 * `deduction`: a chain of stated comparisons ("Ann is taller than Bob.") → who is tallest /
 * shortest, or (level 3) is X taller than Y. The trace writes the derived order
 * (`order Dan,Bob,Ann; so Dan`). Level 1: 3 people, facts in chain order; level 2: 4 people,
 * facts shuffled; level 3: 5 people, shuffled, also yes/no pair questions.
 */
import { at, defineFamily, normaliseWord } from './define.js';
import { NAMES } from './names.js';

const RELATIONS = [
  { comparative: 'taller', most: 'tallest', least: 'shortest' },
  { comparative: 'older', most: 'oldest', least: 'youngest' },
  { comparative: 'faster', most: 'fastest', least: 'slowest' },
] as const;

type Query =
  | { readonly kind: 'most' }
  | { readonly kind: 'least' }
  | { readonly kind: 'pair'; readonly x: string; readonly y: string };

interface Problem {
  /** True order, most first. */
  readonly order: readonly string[];
  readonly relation: number;
  /** Fact k states order[k] above order[k+1]; listed in this order. */
  readonly factOrder: readonly number[];
  readonly query: Query;
}

function answerFor(order: readonly string[], query: Query): string {
  if (query.kind === 'most') return at(order, 0);
  if (query.kind === 'least') return at(order, order.length - 1);
  return order.indexOf(query.x) < order.indexOf(query.y) ? 'yes' : 'no';
}

/** The `deduction` family (non-math): see the module comment for levels, trace and noise. */
export const deduction = defineFamily<Problem>({
  name: 'deduction',
  domain: 'non-math',
  description: 'chains of comparisons; who is most/least, or is X above Y',
  sample(rng, difficulty) {
    const n = difficulty + 2;
    const order = rng.sample(NAMES, n);
    const facts = [...Array(n - 1).keys()];
    const factOrder = difficulty === 1 ? facts : rng.sample(facts, facts.length);
    let query: Query = rng.next() < 0.5 ? { kind: 'most' } : { kind: 'least' };
    if (difficulty === 3 && rng.next() < 0.5) {
      const [x, y] = rng.sample(order, 2) as [string, string];
      query = { kind: 'pair', x, y };
    }
    return { order, relation: rng.int(0, RELATIONS.length - 1), factOrder, query };
  },
  question({ order, relation, factOrder, query }) {
    const rel = at(RELATIONS, relation);
    const facts = factOrder.map(
      (k) => `${at(order, k)} is ${rel.comparative} than ${at(order, k + 1)}.`,
    );
    const ask =
      query.kind === 'pair'
        ? `Is ${query.x} ${rel.comparative} than ${query.y}?`
        : `Who is ${query.kind === 'most' ? rel.most : rel.least}?`;
    return `${facts.join(' ')} ${ask}`;
  },
  answer: ({ order, query }) => answerFor(order, query),
  parse(question) {
    const facts = [...question.matchAll(/(\w+) is (\w+) than (\w+)\./g)];
    const first = facts[0];
    if (first === undefined) return undefined;
    const relation = RELATIONS.findIndex((r) => r.comparative === first[2]);
    if (relation < 0) return undefined;
    const rel = at(RELATIONS, relation);
    const below = new Map(facts.map((f) => [f[1] as string, f[3] as string]));
    const lower = new Set(facts.map((f) => f[3] as string));
    let top = facts.map((f) => f[1] as string).find((name) => !lower.has(name));
    const order: string[] = [];
    while (top !== undefined && order.length <= facts.length) {
      order.push(top);
      top = below.get(top);
    }
    if (order.length !== facts.length + 1) return undefined;
    const factOrder = facts.map((f) => order.indexOf(f[1] as string));
    const tail = question.slice(question.lastIndexOf('.') + 2);
    let query: Query | undefined;
    const pair = new RegExp(`^Is (\\w+) ${rel.comparative} than (\\w+)\\?$`).exec(tail);
    if (pair !== null) query = { kind: 'pair', x: pair[1] as string, y: pair[2] as string };
    else if (tail === `Who is ${rel.most}?`) query = { kind: 'most' };
    else if (tail === `Who is ${rel.least}?`) query = { kind: 'least' };
    return query === undefined ? undefined : { order, relation, factOrder, query };
  },
  steps: () => 1,
  trace({ order, query }, wrongStep) {
    const written = [...order];
    if (wrongStep !== undefined) {
      // One wrong step: the two people the answer depends on are written in swapped places.
      const n = written.length;
      const [i, j] =
        query.kind === 'most'
          ? [0, 1]
          : query.kind === 'least'
            ? [n - 2, n - 1]
            : [order.indexOf(query.x), order.indexOf(query.y)];
      [written[i], written[j]] = [at(written, j), at(written, i)];
    }
    const finalAnswer = answerFor(written, query);
    return { trace: `order ${written.join(',')}; so ${finalAnswer}`, finalAnswer };
  },
  normalise: normaliseWord,
});
