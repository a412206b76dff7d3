/**
 * The task's splits: the old task unchanged when the new data keys keep their defaults, and the
 * issue-12 task (a pretrained hard level mixed into the pool, near-transfer and far-control
 * splits, a validation split disjoint from the pool and every test split).
 */
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { buildPretrainCorpus } from '@covrl/data';
import { decodeConfig } from './config/decode.js';
import type { Config } from './config/schema.js';
import { buildTask, corpusOptions, pretrainLevels } from './task.js';

function quick(): Config {
  const c = decodeConfig({ method: 'covrl', preset: 'quick', flags: {} });
  if (E.isLeft(c)) throw new Error(c.left.join('; '));
  return c.right;
}

function searchTask(data: Partial<Config['data']> = {}): Config {
  const c = quick();
  return {
    ...c,
    data: {
      ...c.data,
      trainFamilies: ['pair-sum'],
      transferFamilies: [],
      nearTransferFamilies: ['pair-diff'],
      farControlFamilies: ['string-ops'],
      trainPerFamily: 200,
      testPerFamily: 40,
      difficulty: 2,
      hardLevel: 3,
      hardPoolShare: 0.25,
      validationPerFamily: 40,
      ...data,
    },
  };
}

describe('buildTask', () => {
  it('keeps the old task when the new keys keep their defaults', () => {
    const c = quick();
    const task = buildTask(c);
    expect(Object.keys(task.splits)).toEqual(['in-domain', 'transfer', 'hard']);
    expect(task.splits['hard']?.length).toBe(Math.ceil(c.data.testPerFamily / 2));
    expect(task.splits['hard']?.every((x) => x.difficulty === c.data.difficulty + 1)).toBe(true);
    expect(task.train.every((x) => x.difficulty === c.data.difficulty)).toBe(true);
    expect(task.validation).toEqual([]);
    expect(pretrainLevels(c)).toEqual([c.data.difficulty]);
    expect(corpusOptions(c).difficulty).toBe(c.data.difficulty);
  });

  it('builds the pretrained hard split, near-transfer, far-control and validation', () => {
    const c = searchTask();
    const task = buildTask(c);
    expect(Object.keys(task.splits)).toEqual(['in-domain', 'hard', 'near-transfer', 'far-control']);
    const { splits } = task;
    expect(splits['in-domain']?.every((x) => x.family === 'pair-sum' && x.difficulty === 2)).toBe(
      true,
    );
    expect(splits['hard']).toHaveLength(40);
    expect(splits['hard']?.every((x) => x.family === 'pair-sum' && x.difficulty === 3)).toBe(true);
    expect(splits['near-transfer']?.every((x) => x.family === 'pair-diff')).toBe(true);
    expect(splits['far-control']?.every((x) => x.family === 'string-ops')).toBe(true);
    // The pool: 150 level-2 and 50 level-3 questions.
    expect(task.train).toHaveLength(200);
    expect(task.train.filter((x) => x.difficulty === 3)).toHaveLength(50);
    // Validation: the pool's mix, disjoint from the pool and from every split.
    expect(task.validation).toHaveLength(40);
    expect(task.validation.filter((x) => x.difficulty === 3)).toHaveLength(10);
    const taken = new Set([...task.train, ...Object.values(splits).flat()].map((x) => x.question));
    expect(task.validation.some((x) => taken.has(x.question))).toBe(false);
    const pool = new Set(task.train.map((x) => x.question));
    expect(
      Object.values(splits)
        .flat()
        .some((x) => pool.has(x.question)),
    ).toBe(false);
    expect(buildTask(c)).toEqual(task);
  });

  it('pretrains on every family and the hard level, never on an evaluation or validation question', () => {
    const c = searchTask({ trainPerFamily: 100, testPerFamily: 20, validationPerFamily: 20 });
    const options = corpusOptions({
      ...c,
      pretrain: { ...c.pretrain, examplesPerFamily: 300 },
    });
    expect(options.families).toEqual(['pair-sum', 'pair-diff', 'string-ops']);
    expect(options.difficulty).toEqual([2, 3]);
    const task = buildTask(c);
    const held = new Set(
      [...Object.values(task.splits).flat(), ...task.validation].map((x) => x.question),
    );
    const excluded = new Set(options.excludeQuestions ?? []);
    for (const q of held) expect(excluded.has(q)).toBe(true);
    const corpus = buildPretrainCorpus(options);
    expect(corpus.mix.byDifficulty).toEqual({ '2': 450, '3': 450 });
    expect(corpus.texts.some((t) => [...held].some((q) => t.includes(q)))).toBe(false);
  });

  it('refuses inconsistent task keys, naming them', () => {
    expect(() => buildTask(searchTask({ hardLevel: 0 }))).toThrow(
      /hardPoolShare > 0 needs data\.hardLevel/,
    );
    expect(() => buildTask(searchTask({ hardLevel: 4 }))).toThrow(/data\.hardLevel must be 0/);
    expect(() => buildTask(searchTask({ hardPoolShare: 1 }))).toThrow(/data\.hardPoolShare/);
    expect(() => buildTask(searchTask({ farControlFamilies: ['pair-sum'] }))).toThrow(
      /data\.farControlFamilies repeats training family 'pair-sum'/,
    );
    expect(() => buildTask(searchTask({ validationPerFamily: 1.5 }))).toThrow(
      /data\.validationPerFamily/,
    );
  });
});
