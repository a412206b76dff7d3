/**
 * Test fixtures for the app's run tests: a tiny config (one-layer 32-wide GPT, a handful of
 * questions and rollouts), the wasm backend the app uses, and a tiny base model (a few hundred
 * pretraining steps, so rollouts are often well formed; or random weights where only the plumbing
 * matters).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import { createCausalLM } from '@covrl/models';
import type { Config } from '../config/schema.js';
import type { Method } from '../methods/index.js';
import { decodeConfig } from '../config/decode.js';
import { baseFingerprint, modelConfigOf, saveBase } from '../model-io.js';
import { pretrain } from '../pretrain.js';
import { makeTokenizer, tagsOf } from '../task.js';

export const TINY: Readonly<Record<string, string>> = {
  'model.dModel': '32',
  'model.nLayers': '1',
  'model.nHeads': '2',
  'model.dFf': '32',
  'model.maxContext': '128',
  'data.trainPerFamily': '16',
  'data.testPerFamily': '4',
  'train.steps': '3',
  'train.questionsPerStep': '2',
  'train.groupSize': '2',
  'train.maxTraceTokens': '40',
  'train.maxAnswerTokens': '8',
  'train.miniBatches': '1',
  'train.evalEvery': '100',
  'train.checkpointEvery': '1',
  'train.lr': '0.01',
  'eval.samples': '1',
  'eval.maxQuestions': '2',
  'eval.maxNewTokens': '24',
  'data.difficulty': '1',
  'pretrain.examplesPerFamily': '300',
  'pretrain.steps': '200',
  'pretrain.batchSize': '16',
  'pretrain.lr': '0.01',
  'pretrain.warmupSteps': '5',
  'pretrain.evalEvery': '200',
};

/** The tiny config of `method` (quick preset), with `extra` flags on top. */
export function tinyConfig(method: Method, extra: Record<string, string> = {}): Config {
  const r = decodeConfig({ method, preset: 'quick', flags: { ...TINY, ...extra } });
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

/**
 * Switch to the app's default backend (wasm; about 30 times faster than cpu for these models).
 * IS_TEST's per-kernel leak check misfires on wasm custom-gradient ops (see tf-setup.ts).
 * Returns the function that restores the test default.
 */
export async function useWasm(): Promise<() => Promise<void>> {
  tf.env().set('IS_TEST', false);
  await tf.setBackend('wasm');
  return async () => {
    await tf.setBackend('cpu');
    tf.env().set('IS_TEST', true);
  };
}

/** Pretrain the tiny base into `dir` (a few seconds). */
export async function pretrainTinyBase(dir: string): Promise<string> {
  await pretrain({ config: tinyConfig('covrl'), out: dir, command: 'test', quiet: true });
  return dir;
}

/** A tiny base with random weights in `dir` (instant; rollouts are mostly malformed). */
export async function randomTinyBase(dir: string, seed = 0): Promise<string> {
  const config = tinyConfig('covrl');
  const tokenizer = makeTokenizer(tagsOf(config));
  const model = createCausalLM(modelConfigOf(config, tokenizer.vocabSize), { seed });
  await saveBase(dir, model, tokenizer, {
    command: 'test',
    createdAt: new Date().toISOString(),
    config,
    fingerprint: baseFingerprint(config),
    step: 0,
  });
  model.dispose();
  return dir;
}
