/**
 * Base models on disk: a directory laid out like a Hugging Face model repository
 * (`config.json`, `model.safetensors`, tokenizer file) plus `covrl-base.json`, which records how
 * the model was made (command, config, evaluation at the chosen step).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createCausalLM,
  defaultModelConfig,
  loadPretrainedFiles,
  savePretrainedFiles,
} from '@covrl/models';
import type { CausalLM, ModelConfig } from '@covrl/models';
import type { CharTokenizer, HfTokenizer } from '@covrl/models';
import type { Config } from './config/schema.js';
import { writeFileAtomic } from './util/atomic.js';
import { preferredMatMulGradient } from './runtime.js';

export interface BaseMeta {
  readonly command: string;
  readonly createdAt: string;
  /** The resolved config of the `pretrain` run that produced the model. */
  readonly config: unknown;
  /** Fingerprint of everything that decides the base model (see {@link baseFingerprint}). */
  readonly fingerprint: string;
  readonly step: number;
  readonly eval?: Readonly<Record<string, number>>;
}

export interface LoadedBase {
  readonly model: CausalLM;
  readonly tokenizer: CharTokenizer | HfTokenizer;
  readonly meta: BaseMeta | undefined;
}

/** The model config of a run: the app's `model.*` keys over the family defaults. */
export function modelConfigOf(config: Config, vocabSize: number): ModelConfig {
  const m = config.model;
  return defaultModelConfig(m.family as 'gpt2' | 'llama', {
    vocabSize,
    dModel: m.dModel,
    nLayers: m.nLayers,
    nHeads: m.nHeads,
    dFf: m.dFf,
    maxContext: m.maxContext,
  });
}

/**
 * What decides a base model: model shape, tags, the data keys (families, difficulty, sizes: the
 * corpus excludes every evaluation question) and the pretraining keys.
 * `compare` reuses a base only when this matches.
 */
export function baseFingerprint(config: Config): string {
  return JSON.stringify({
    model: config.model,
    tags: config.tags,
    // The corpus excludes every evaluation question, so the data sizes decide it too.
    data: config.data,
    pretrain: config.pretrain,
  });
}

/** Load a base model directory (weights, tokenizer and, when present, `covrl-base.json`). */
export async function loadBase(dir: string, seed = 0): Promise<LoadedBase> {
  if (!existsSync(dir)) {
    throw new Error(
      `${dir}: base model directory not found; create one with \`covrl pretrain --out ${dir}\``,
    );
  }
  const files = await loadPretrainedFiles(dir);
  const weights: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(files.weights))
    weights[name] = tf.tensor(t.data, [...t.shape]);
  const model = createCausalLM(files.config, {
    seed,
    weights,
    matMulGradient: preferredMatMulGradient(),
  });
  tf.dispose(Object.values(weights));
  const metaPath = join(dir, 'covrl-base.json');
  const meta = existsSync(metaPath)
    ? (JSON.parse(readFileSync(metaPath, 'utf8')) as BaseMeta)
    : undefined;
  return { model, tokenizer: files.tokenizer, meta };
}

/** Save a model, its tokenizer and its provenance as a base model directory (atomically per file). */
export async function saveBase(
  dir: string,
  model: CausalLM,
  tokenizer: CharTokenizer | HfTokenizer,
  meta: BaseMeta,
): Promise<void> {
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, v] of model.variables()) {
    weights[name] = { shape: v.shape.slice(), data: (await v.data()) as Float32Array };
  }
  await savePretrainedFiles(dir, { config: model.config, weights, tokenizer });
  await writeFileAtomic(join(dir, 'covrl-base.json'), `${JSON.stringify(meta, null, 1)}\n`);
}
