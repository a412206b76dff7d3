/**
 * The task a run trains and evaluates on, as a pure function of the config: the tokenizer, the RL
 * training pool, the evaluation splits, and the data order. Every example comes from the
 * synthetic suite of `@covrl/data`; evaluation questions are excluded from the pretraining corpus
 * and from the RL training pool, so no split measures recall.
 */
import * as E from 'fp-ts/lib/Either.js';
import { CharTokenizer } from '@covrl/models';
import { dedupe, getFamily, shuffle, splitOf } from '@covrl/data';
import type { Example, buildPretrainCorpus } from '@covrl/data';
import { buildContexts } from '@covrl/sampler';
import type { ExampleContexts, Tags, Tokenizer } from '@covrl/sampler';
import type { Config } from './config/schema.js';
import { mixSeed } from './util/seeds.js';

/** Seeds of the data streams: fixed, so every run and seed of a comparison shares one task. */
export const DATA_SEEDS = { rlPool: 1_000_003, hard: 2_000_003, corpus: 3_000_017 } as const;

/** The tags of the config as the sampler's `Tags`. */
export function tagsOf(config: Config): Tags {
  return { ...config.tags };
}

/**
 * The character tokenizer of the synthetic task: printable ASCII and newline, one token per tag
 * string (so no tag is ever split), `<pad>` and `<eos>`.
 */
export function makeTokenizer(tags: Tags): CharTokenizer {
  let alphabet = '\n';
  for (let c = 32; c < 127; c++) alphabet += String.fromCharCode(c);
  return CharTokenizer.fromAlphabet(alphabet, {
    atomicTokens: [tags.thinkOpen, tags.thinkClose, tags.answerOpen, tags.answerClose],
  });
}

export interface Task {
  readonly train: readonly Example[];
  /** Evaluation splits in display order: `in-domain`, `transfer`, `hard`. */
  readonly splits: Readonly<Record<string, readonly Example[]>>;
  /** Evaluation draws removed because the same question is in the RL training pool. */
  readonly removedOverlap: number;
}

function familyExamples(name: string, seed: number, count: number, difficulty: number): Example[] {
  const family = getFamily(name);
  if (E.isLeft(family)) throw new Error(`data family '${name}': ${family.left}`);
  return family.right.generate({ seed, count, difficulty });
}

/**
 * Options of the pretraining corpus. Every evaluation question of the task is excluded from it
 * (the corpus generator replaces such draws), so no split measures recall of pretraining text.
 */
export function corpusOptions(config: Config): Parameters<typeof buildPretrainCorpus>[0] {
  const p = config.pretrain;
  const task = buildTask(config);
  return {
    excludeQuestions: Object.values(task.splits).flatMap((xs) => xs.map((x) => x.question)),
    families: [...new Set([...config.data.trainFamilies, ...config.data.transferFamilies])],
    examplesPerFamily: p.examplesPerFamily,
    seed: DATA_SEEDS.corpus,
    difficulty: config.data.difficulty,
    posteriorShare: p.posteriorShare,
    noTraceShare: p.noTraceShare,
    priorTraceErrorRate: p.priorTraceErrorRate,
    posteriorTraceErrorRate: p.posteriorTraceErrorRate,
    tags: tagsOf(config),
  };
}

/** Build the task of `config`. Deterministic: the same config gives the same examples. */
export function buildTask(config: Config): Task {
  const d = config.data;
  // Training questions never appear in an evaluation split.
  const trainQuestions = new Set<string>();
  let removed = 0;
  const notSeen = (xs: Example[]): Example[] => {
    const kept = xs.filter((x) => !trainQuestions.has(x.question));
    removed += xs.length - kept.length;
    return kept;
  };
  const testFraction = d.testPerFamily / (d.trainPerFamily + d.testPerFamily);
  const train: Example[] = [];
  const inDomain: Example[] = [];
  for (const name of d.trainFamilies) {
    const pool = dedupe(
      familyExamples(
        name,
        DATA_SEEDS.rlPool,
        2 * (d.trainPerFamily + d.testPerFamily),
        d.difficulty,
      ),
    ).kept;
    const tr = pool.filter((x) => splitOf(x.id, { testFraction, salt: 'covrl' }) === 'train');
    const te = pool.filter((x) => splitOf(x.id, { testFraction, salt: 'covrl' }) === 'test');
    train.push(...tr.slice(0, d.trainPerFamily));
    for (const x of tr.slice(0, d.trainPerFamily)) trainQuestions.add(x.question);
    inDomain.push(...notSeen(te).slice(0, d.testPerFamily));
  }
  const transfer: Example[] = [];
  for (const name of d.transferFamilies) {
    const pool = dedupe(
      familyExamples(name, DATA_SEEDS.rlPool, 2 * d.testPerFamily, d.difficulty),
    ).kept;
    transfer.push(...notSeen(pool).slice(0, d.testPerFamily));
  }
  const hard: Example[] = [];
  const hardLevel = Math.min(3, d.difficulty + 1);
  if (hardLevel > d.difficulty) {
    for (const name of d.trainFamilies) {
      const pool = dedupe(
        familyExamples(name, DATA_SEEDS.hard, 2 * d.testPerFamily, hardLevel),
      ).kept;
      hard.push(...notSeen(pool).slice(0, Math.ceil(d.testPerFamily / 2)));
    }
  }
  const splits: Record<string, Example[]> = { 'in-domain': inDomain, transfer };
  if (hard.length > 0) splits['hard'] = hard;
  return { train, splits, removedOverlap: removed };
}

/**
 * The questions of optimizer step `step` (1-based): a pure function of (seed, step). The pool is
 * reshuffled every epoch with `shuffle(pool, { seed, epoch })`.
 */
export function batchAt(
  pool: readonly Example[],
  seed: number,
  step: number,
  size: number,
): { examples: Example[]; cursor: number } {
  const examples: Example[] = [];
  const orders = new Map<number, readonly Example[]>();
  let cursor = (step - 1) * size;
  for (let i = 0; i < size; i++, cursor++) {
    const epoch = Math.floor(cursor / pool.length);
    let order = orders.get(epoch);
    if (order === undefined) {
      order = shuffle(pool, { seed, epoch });
      orders.set(epoch, order);
    }
    examples.push(order[cursor % pool.length] as Example);
  }
  return { examples, cursor };
}

/** Extra questions for a further generation round (RLPR's std filter), also pure in (seed, step, round). */
export function extraBatchAt(
  pool: readonly Example[],
  seed: number,
  step: number,
  round: number,
  size: number,
): Example[] {
  return shuffle(pool, { seed: mixSeed(seed, step, round), epoch: 0 }).slice(0, size);
}

/** Token pieces of every example, cached by id. */
export class ContextCache {
  private readonly cache = new Map<string, ExampleContexts>();
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly tags: Tags,
    private readonly baselineContext: 'no-think' | 'empty-think' = 'no-think',
  ) {}
  get(example: Example): ExampleContexts {
    let c = this.cache.get(example.id);
    if (c === undefined) {
      c = buildContexts({
        tokenizer: this.tokenizer,
        tags: this.tags,
        question: example.question,
        answer: example.answer,
        baselineContext: this.baselineContext,
      });
      this.cache.set(example.id, c);
    }
    return c;
  }
}
