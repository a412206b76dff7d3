/**
 * `rate`: rate and unit word problems (distance = speed·time, cost = price·quantity, time =
 * amount/rate, change from a payment). Level 1: one-digit rates, one step. Level 2: two-digit
 * rates, product split into tens and ones. Level 3: larger rates or making change.
 */
import { defineFamily, normaliseInteger } from './define.js';
import type { Rng } from '../rng.js';

type Problem =
  | { readonly kind: 'speed' | 'price'; readonly r: number; readonly t: number }
  | { readonly kind: 'fill'; readonly r: number; readonly t: number }
  | { readonly kind: 'change'; readonly r: number; readonly t: number; readonly paid: number };

const product = (p: Problem): number => p.r * p.t;

function twoDigit(rng: Rng, lo: number, hi: number): number {
  for (;;) {
    const v = rng.int(lo, hi);
    if (v % 10 !== 0) return v;
  }
}

/** `r*t` in steps: one step for one-digit r, else tens, ones and their sum. */
function multiply(
  r: number,
  t: number,
  wrongStep: number | undefined,
  delta: number,
): [string, number] {
  if (r < 10) {
    const p = r * t + (wrongStep === 0 ? delta : 0);
    return [`${r}*${t}=${p}`, p];
  }
  const tens = Math.floor(r / 10) * 10;
  const ones = r % 10;
  const x = tens * t + (wrongStep === 0 ? 10 * delta : 0);
  const y = ones * t + (wrongStep === 1 ? delta : 0);
  const p = x + y + (wrongStep === 2 ? delta : 0);
  return [`${tens}*${t}=${x}, ${ones}*${t}=${y}, ${x}+${y}=${p}`, p];
}

/** The `rate` family (math): see the module comment for levels, trace and noise. */
export const rate = defineFamily<Problem>({
  name: 'rate',
  domain: 'math',
  description: 'rate/unit word problems (speed*time, price*quantity, amount/rate, change)',
  sample(rng, difficulty) {
    if (difficulty === 1) {
      const kind = rng.pick(['speed', 'price', 'fill'] as const);
      return { kind, r: rng.int(2, 9), t: rng.int(2, 9) };
    }
    if (difficulty === 2) {
      return {
        kind: rng.pick(['speed', 'price'] as const),
        r: twoDigit(rng, 11, 49),
        t: rng.int(2, 9),
      };
    }
    if (rng.next() < 0.5) {
      return {
        kind: rng.pick(['speed', 'price'] as const),
        r: twoDigit(rng, 51, 99),
        t: rng.int(3, 9),
      };
    }
    const r = twoDigit(rng, 11, 49);
    const t = rng.int(2, 9);
    return { kind: 'change', r, t, paid: Math.ceil((r * t + 1) / 100) * 100 };
  },
  question(p) {
    switch (p.kind) {
      case 'speed':
        return `A bike goes ${p.r} km each hour. How many km in ${p.t} hours?`;
      case 'price':
        return `A pen costs ${p.r} coins. What do ${p.t} pens cost?`;
      case 'fill':
        return `A tap fills ${p.r} L each minute. How many minutes to fill ${product(p)} L?`;
      case 'change':
        return `Pens cost ${p.r} coins each. Ann buys ${p.t} and pays ${p.paid}. Change?`;
    }
  },
  answer: (p) =>
    String(p.kind === 'fill' ? p.t : p.kind === 'change' ? p.paid - product(p) : product(p)),
  parse(question) {
    let m = /^A bike goes (\d+) km each hour\. How many km in (\d+) hours\?$/.exec(question);
    if (m !== null) return { kind: 'speed', r: Number(m[1]), t: Number(m[2]) };
    m = /^A pen costs (\d+) coins\. What do (\d+) pens cost\?$/.exec(question);
    if (m !== null) return { kind: 'price', r: Number(m[1]), t: Number(m[2]) };
    m = /^A tap fills (\d+) L each minute\. How many minutes to fill (\d+) L\?$/.exec(question);
    if (m !== null) {
      const r = Number(m[1]);
      const t = Number(m[2]) / r;
      return Number.isInteger(t) ? { kind: 'fill', r, t } : undefined;
    }
    m = /^Pens cost (\d+) coins each\. Ann buys (\d+) and pays (\d+)\. Change\?$/.exec(question);
    if (m !== null) return { kind: 'change', r: Number(m[1]), t: Number(m[2]), paid: Number(m[3]) };
    return undefined;
  },
  steps: (p) => (p.kind === 'fill' || p.r < 10 ? 1 : p.kind === 'change' ? 4 : 3),
  trace(p, wrongStep, rng) {
    const delta = rng.next() < 0.5 ? -1 : 1;
    if (p.kind === 'fill') {
      const t = p.t + (wrongStep === 0 ? delta : 0);
      return { trace: `${product(p)}/${p.r}=${t}`, finalAnswer: String(t) };
    }
    const [steps, total] = multiply(p.r, p.t, wrongStep, delta);
    if (p.kind !== 'change') return { trace: `${steps}, so ${total}`, finalAnswer: String(total) };
    const change = p.paid - total + (wrongStep === 3 ? delta : 0);
    return {
      trace: `${steps}, ${p.paid}-${total}=${change}`,
      finalAnswer: String(change),
    };
  },
  normalise: normaliseInteger,
});
