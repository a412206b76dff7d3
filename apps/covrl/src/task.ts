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

/**
 * Seeds of the data streams: fixed, so every run and seed of a comparison shares one task. The
 * validation stream is its own seed, so validation questions are fresh draws of the RL
 * distribution (and any that coincide with a training or test question are dropped).
 */
export const DATA_SEEDS = {
  rlPool: 1_000_003,
  hard: 2_000_003,
  corpus: 3_000_017,
  validation: 4_000_037,
} as const;

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
  /**
   * Evaluation splits (every one is reported), in display order:
   * - `in-domain`: held-out questions of the RL families at `data.difficulty`;
   * - `hard`: with `data.hardLevel` 0 (the old task) level `difficulty + 1`, which pretraining
   *   never shows; with `data.hardLevel` ≥ 1, questions of the RL families at that level, which
   *   the pretraining corpus covers and the RL pool mixes in (`data.hardPoolShare`);
   * - `near-transfer` (`data.nearTransferFamilies`): families sharing a sub-skill with the RL
   *   families, pretrained on, never RL-trained;
   * - `far-control` (`data.farControlFamilies`): unrelated families, where no method should move;
   * - `transfer` (`data.transferFamilies`): the old task's transfer split.
   * The old task (`hardLevel` 0) keeps its order: `in-domain`, `transfer`, `hard`.
   */
  readonly splits: Readonly<Record<string, readonly Example[]>>;
  /**
   * Questions drawn from the RL pool's distribution (same families and level mix), disjoint from
   * the pool and from every split: for choosing settings (learning rate, α) only, never a
   * reported number. Empty unless `data.validationPerFamily` > 0.
   */
  readonly validation: readonly Example[];
  /** Evaluation draws removed because the same question is in the RL training pool. */
  readonly removedOverlap: number;
}

function familyExamples(name: string, seed: number, count: number, difficulty: number): Example[] {
  const family = getFamily(name);
  if (E.isLeft(family)) throw new Error(`data family '${name}': ${family.left}`);
  return family.right.generate({ seed, count, difficulty });
}

/**
 * The pretraining levels of `config`: `data.difficulty`, plus `data.hardLevel` when set (so the
 * hard split is covered by pretraining, spec §7b / issue 12).
 */
export function pretrainLevels(config: Config): number[] {
  const { difficulty, hardLevel } = config.data;
  return hardLevel > 0 && hardLevel !== difficulty ? [difficulty, hardLevel] : [difficulty];
}

/**
 * Options of the pretraining corpus. Every evaluation and validation question of the task is
 * excluded from it (the corpus generator replaces such draws), so no split measures recall of
 * pretraining text. The corpus covers the RL, transfer, near-transfer and far-control families
 * at every level of {@link pretrainLevels}.
 */
export function corpusOptions(config: Config): Parameters<typeof buildPretrainCorpus>[0] {
  const p = config.pretrain;
  const d = config.data;
  const task = buildTask(config);
  const levels = pretrainLevels(config);
  return {
    excludeQuestions: [...Object.values(task.splits).flat(), ...task.validation].map(
      (x) => x.question,
    ),
    families: [
      ...new Set([
        ...d.trainFamilies,
        ...d.transferFamilies,
        ...d.nearTransferFamilies,
        ...d.farControlFamilies,
      ]),
    ],
    examplesPerFamily: p.examplesPerFamily,
    seed: DATA_SEEDS.corpus,
    difficulty: levels.length === 1 ? d.difficulty : levels,
    posteriorShare: p.posteriorShare,
    noTraceShare: p.noTraceShare,
    priorTraceErrorRate: p.priorTraceErrorRate,
    posteriorTraceErrorRate: p.posteriorTraceErrorRate,
    tags: tagsOf(config),
  };
}

/**
 * Checks `data.hardLevel`, `data.hardPoolShare`, `data.validationPerFamily` and that the
 * near-transfer and far-control families are not RL families (buildTask).
 */
function checkTaskKeys(d: Config['data']): void {
  if (!Number.isInteger(d.hardLevel) || d.hardLevel < 0 || d.hardLevel > 3) {
    throw new Error(
      `buildTask: data.hardLevel must be 0 (hard = level difficulty+1, not pretrained) or a level 1..3, got ${d.hardLevel}`,
    );
  }
  if (!(d.hardPoolShare >= 0 && d.hardPoolShare < 1)) {
    throw new Error(`buildTask: data.hardPoolShare must be in [0, 1), got ${d.hardPoolShare}`);
  }
  if (d.hardPoolShare > 0 && d.hardLevel === 0) {
    throw new Error(
      'buildTask: data.hardPoolShare > 0 needs data.hardLevel >= 1 (the level the pool mixes in)',
    );
  }
  for (const key of ['nearTransferFamilies', 'farControlFamilies'] as const) {
    const clash = d[key].find((f) => d.trainFamilies.includes(f));
    if (clash !== undefined) {
      throw new Error(
        `buildTask: data.${key} repeats training family '${clash}'; transfer must be measured on families RL never trains`,
      );
    }
  }
  if (!Number.isInteger(d.validationPerFamily) || d.validationPerFamily < 0) {
    throw new Error(
      `buildTask: data.validationPerFamily must be a non-negative integer, got ${d.validationPerFamily}`,
    );
  }
}

/**
 * Build the task of `config`. Deterministic: the same config gives the same examples. With the
 * new keys at their defaults (`hardLevel` 0, `hardPoolShare` 0, no near-transfer or far-control
 * families, `validationPerFamily` 0) the pool and splits are those of the old task.
 */
export function buildTask(config: Config): Task {
  const d = config.data;
  checkTaskKeys(d);
  // Training questions never appear in an evaluation split.
  const trainQuestions = new Set<string>();
  let removed = 0;
  const notSeen = (xs: Example[]): Example[] => {
    const kept = xs.filter((x) => !trainQuestions.has(x.question));
    removed += xs.length - kept.length;
    return kept;
  };
  const testFraction = d.testPerFamily / (d.trainPerFamily + d.testPerFamily);
  const isTrain = (x: Example): boolean =>
    splitOf(x.id, { testFraction, salt: 'covrl' }) === 'train';
  const hardInPool = Math.round(d.trainPerFamily * d.hardPoolShare);
  const mainInPool = d.trainPerFamily - hardInPool;
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
    const tr = pool.filter(isTrain).slice(0, mainInPool);
    train.push(...tr);
    for (const x of tr) trainQuestions.add(x.question);
    if (hardInPool > 0) {
      // Hard questions of the same family mixed into the pool (the hard split is a different seed).
      const hardPool = dedupe(
        familyExamples(name, DATA_SEEDS.rlPool, 2 * hardInPool + 16, d.hardLevel),
      ).kept.slice(0, hardInPool);
      train.push(...hardPool);
      for (const x of hardPool) trainQuestions.add(x.question);
    }
    const te = pool.filter((x) => !isTrain(x));
    inDomain.push(...notSeen(te).slice(0, d.testPerFamily));
  }
  const heldOut = (names: readonly string[]): Example[] =>
    names.flatMap((name) =>
      notSeen(
        dedupe(familyExamples(name, DATA_SEEDS.rlPool, 2 * d.testPerFamily, d.difficulty)).kept,
      ).slice(0, d.testPerFamily),
    );
  const transfer = heldOut(d.transferFamilies);
  const hard: Example[] = [];
  const hardLevel = d.hardLevel > 0 ? d.hardLevel : Math.min(3, d.difficulty + 1);
  // The old task's hard split has half a split's questions; a pretrained hard level a full one.
  const hardCount = d.hardLevel > 0 ? d.testPerFamily : Math.ceil(d.testPerFamily / 2);
  if (d.hardLevel > 0 || hardLevel > d.difficulty) {
    for (const name of d.trainFamilies) {
      const pool = dedupe(
        familyExamples(name, DATA_SEEDS.hard, 2 * d.testPerFamily, hardLevel),
      ).kept;
      hard.push(...notSeen(pool).slice(0, hardCount));
    }
  }
  const splits: Record<string, Example[]> = { 'in-domain': inDomain };
  if (hard.length > 0 && d.hardLevel > 0) splits['hard'] = hard;
  if (d.nearTransferFamilies.length > 0) splits['near-transfer'] = heldOut(d.nearTransferFamilies);
  if (d.farControlFamilies.length > 0) splits['far-control'] = heldOut(d.farControlFamilies);
  // The old task's order: in-domain, transfer, hard (its report and tests read it so).
  if (d.transferFamilies.length > 0 || d.hardLevel === 0) splits['transfer'] = transfer;
  if (hard.length > 0 && d.hardLevel === 0) splits['hard'] = hard;
  const validation = validationOf(d, train, Object.values(splits).flat());
  return { train, splits, validation, removedOverlap: removed };
}

/**
 * `data.validationPerFamily` questions per RL family from the validation seed, at the pool's
 * level mix (a `hardPoolShare` share at `hardLevel`), with any question that is in the RL pool or
 * an evaluation split dropped and replaced.
 */
function validationOf(
  d: Config['data'],
  train: readonly Example[],
  evaluation: readonly Example[],
): Example[] {
  if (d.validationPerFamily === 0) return [];
  const taken = new Set([...train, ...evaluation].map((x) => x.question));
  const nHard = Math.round(d.validationPerFamily * d.hardPoolShare);
  const out: Example[] = [];
  for (const name of d.trainFamilies) {
    for (const [level, n] of [
      [d.difficulty, d.validationPerFamily - nHard],
      [d.hardLevel, nHard],
    ] as const) {
      if (n === 0) continue;
      const drawn = dedupe(familyExamples(name, DATA_SEEDS.validation, 3 * n + 16, level)).kept;
      out.push(...drawn.filter((x) => !taken.has(x.question)).slice(0, n));
    }
  }
  return out;
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

/**
 * The data of training step `step`: its questions and their contexts, its sampling seed, and the
 * questions of any further generation round, each a pure function of (run seed, step, round) —
 * which is what makes N straight steps equal k steps + resume + N − k.
 */
export function stepData(
  pool: readonly Example[],
  config: Pick<Config, 'seed' | 'train'>,
  step: number,
  contextsOf: (xs: readonly Example[]) => ExampleContexts[],
): {
  examples: Example[];
  contexts: ExampleContexts[];
  seed: number;
  extraBatch: (round: number) => { examples: Example[]; contexts: ExampleContexts[] };
} {
  const size = config.train.questionsPerStep;
  const { examples } = batchAt(pool, config.seed, step, size);
  return {
    examples,
    contexts: contextsOf(examples),
    seed: mixSeed(config.seed, step),
    extraBatch: (round) => {
      const xs = extraBatchAt(pool, config.seed, step, round, size);
      return { examples: xs, contexts: contextsOf(xs) };
    },
  };
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
