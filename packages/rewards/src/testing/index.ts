/**
 * Fixtures for tests of `@covrl/rewards` and of packages that use it: padded answer log-prob
 * tensors, a seeded random generator, and well-formed generated texts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@covrl/utils';
import { defaultRewardTags } from '../reward-tags.js';
import type { RewardTags } from '../reward-tags.js';

/** Arguments of {@link makeAnswerLogProbs}. */
export interface MakeAnswerLogProbsArgs {
  /** One array of answer-token log-probs per row; rows may differ in length (even be empty). */
  readonly rows: readonly (readonly number[])[];
  /** Padded width A; default the longest row (at least 1). */
  readonly answerLength?: number;
  /** Value written at padded positions; default NaN, so a function that reads padding fails. */
  readonly padValue?: number;
}

/**
 * Builds `answerLogProbs` and `answerMask` `[B, A]` (float32) from ragged rows. The caller owns
 * (and disposes) both tensors.
 */
export function makeAnswerLogProbs(args: MakeAnswerLogProbsArgs): {
  answerLogProbs: tf.Tensor2D;
  answerMask: tf.Tensor2D;
} {
  const { rows, padValue = Number.NaN } = args;
  const width = args.answerLength ?? Math.max(1, ...rows.map((r) => r.length));
  if (rows.some((r) => r.length > width)) {
    throw new Error(`makeAnswerLogProbs: answerLength ${width} is shorter than a row`);
  }
  const values = rows.flatMap((r) => [...r, ...new Array<number>(width - r.length).fill(padValue)]);
  const mask = rows.flatMap((r) => [
    ...new Array<number>(r.length).fill(1),
    ...new Array<number>(width - r.length).fill(0),
  ]);
  return {
    answerLogProbs: tf.tensor2d(values, [rows.length, width], 'float32'),
    answerMask: tf.tensor2d(mask, [rows.length, width], 'float32'),
  };
}

/** A seeded uniform [0, 1) generator (`@covrl/utils`' mulberry32): same seed, same sequence. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** Arguments of {@link randomAnswerRows}. */
export interface RandomAnswerRowsArgs {
  readonly batchSize: number;
  /** Longest row; lengths are uniform in [minLength, maxLength]. */
  readonly maxLength: number;
  /** Shortest row; default 1 (0 allows empty answers). */
  readonly minLength?: number;
  /** Log-probs are uniform in [minLogProb, 0); default −5. */
  readonly minLogProb?: number;
  readonly seed: number;
}

/** Seeded ragged rows of answer-token log-probs, for {@link makeAnswerLogProbs} and oracles. */
export function randomAnswerRows(args: RandomAnswerRowsArgs): number[][] {
  const { batchSize, maxLength, minLength = 1, minLogProb = -5, seed } = args;
  const random = seededRandom(seed);
  return Array.from({ length: batchSize }, () => {
    const length = minLength + Math.floor(random() * (maxLength - minLength + 1));
    return Array.from({ length }, () => Math.fround(minLogProb * (1 - random())));
  });
}

/** Arguments of {@link makeGeneratedText}. */
export interface MakeGeneratedTextArgs {
  /** The trace body (what follows the prompt's `thinkOpen`). */
  readonly trace: string;
  /** The model's own answer. */
  readonly answer: string;
  readonly tags?: RewardTags;
  /** Between `thinkClose` and `answerOpen`; default `\n`. */
  readonly separator?: string;
}

/** A well-formed FULL-SAMPLE response: `trace thinkClose separator answerOpen answer answerClose`. */
export function makeGeneratedText(args: MakeGeneratedTextArgs): string {
  const { trace, answer, tags = defaultRewardTags, separator = '\n' } = args;
  return `${trace}${tags.thinkClose}${separator}${tags.answerOpen}${answer}${tags.answerClose}`;
}
