/**
 * Stable train/test splits, de-duplication and seeded shuffles. All pure functions of their inputs.
 */
import { fnv1a32, seedFrom } from './hash.js';
import { Rng } from './rng.js';
import type { Example } from './schema.js';

/** Which side of the split a record is on. */
export type Split = 'train' | 'test';

/**
 * The split of `id`: `test` iff `fnv1a32(salt + '|' + id) / 2^32 < testFraction`.
 * Stable: depends only on (id, salt, testFraction), never on file order or record count; raising
 * `testFraction` only moves records from train to test. Throws when `testFraction` is outside [0, 1].
 */
export function splitOf(id: string, options: { testFraction: number; salt?: string }): Split {
  const { testFraction, salt = '' } = options;
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new Error(`splitOf: testFraction must be in [0, 1], got ${testFraction}`);
  }
  return fnv1a32(`${salt}|${id}`) / 4294967296 < testFraction ? 'test' : 'train';
}

/**
 * Normalise a question for duplicate detection: Unicode NFKC, lower case, every run of
 * whitespace to one space, trimmed, and trailing punctuation (`.?!`) dropped.
 */
export function normaliseQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.?!]+$/u, '')
    .trim();
}

/** A dropped duplicate and the id of the first record with the same normalised question. */
export interface Duplicate {
  readonly example: Example;
  readonly duplicateOf: string;
}

/**
 * Keep the first record of each normalised question ({@link normaliseQuestion}); return the kept
 * records in input order and every dropped one with the id it duplicates (nothing dropped silently).
 */
export function dedupe(examples: Iterable<Example>): { kept: Example[]; duplicates: Duplicate[] } {
  const first = new Map<string, string>();
  const kept: Example[] = [];
  const duplicates: Duplicate[] = [];
  for (const example of examples) {
    const key = normaliseQuestion(example.question);
    const seen = first.get(key);
    if (seen === undefined) {
      first.set(key, example.id);
      kept.push(example);
    } else {
      duplicates.push({ example, duplicateOf: seen });
    }
  }
  return { kept, duplicates };
}

/**
 * A new array with `items` in a seeded random order; the input is not modified.
 * Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P) driven by `Rng(seedFrom('shuffle', seed, epoch))`:
 * the same (seed, epoch) always gives the same order, a new epoch a fresh one, so data order is a
 * pure function of (seed, epoch) and survives a resume.
 */
export function shuffle<T>(items: readonly T[], options: { seed: number; epoch?: number }): T[] {
  const rng = new Rng(seedFrom('shuffle', options.seed, options.epoch ?? 0));
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
