/**
 * Models on disk: a directory laid out like a Hugging Face model repository (`config.json`,
 * `model.safetensors`, tokenizer file) plus `covrl-base.json`, which records how the model was
 * made (command, config, evaluation at the chosen step). `covrl pretrain` writes one, `covrl train`
 * exports one to `<run>/model` when a run finishes, and every checkpoint directory is one too.
 */
import { existsSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultModelConfig } from '@covrl/models';
import { loadCausalLM, savePretrainedFiles } from '@covrl/models/node';
import type { CausalLM, ModelConfig } from '@covrl/models';
import type { CharTokenizer, HfTokenizer } from '@covrl/models';
import type { Config } from './config/schema.js';
import { writeFileAtomic } from './util/atomic.js';
import { recoverDirAside, swapDirInto } from './util/dir-swap.js';
import {
  count,
  finite,
  readJsonFile,
  record,
  shape,
  string,
  unknownValue,
} from './util/json-schema.js';
import type { Decoder } from './util/json-schema.js';
import { latestCheckpointDir } from './checkpoint.js';
import { preferredMatMulGradient } from './runtime.js';
import type { BaseIdentity } from './run/base-identity.js';

export type { BaseIdentity } from './run/base-identity.js';
export { describeBase, sameBase } from './run/base-identity.js';

export interface BaseMeta {
  readonly command: string;
  readonly createdAt: string;
  /** The resolved config of the `pretrain` run that produced the model. */
  readonly config: unknown;
  /** Fingerprint of everything that decides the base model (see {@link baseFingerprint}). */
  readonly fingerprint: string;
  readonly step: number;
  readonly eval?: Readonly<Record<string, number>>;
  /** For a `covrl train` export: the method and the model directory training started from. */
  readonly method?: string;
  readonly trainedFrom?: string;
}

export interface LoadedBase {
  readonly model: CausalLM;
  readonly tokenizer: CharTokenizer | HfTokenizer;
  readonly meta: BaseMeta | undefined;
  /** The model directory actually read (see {@link resolveModelDir}). */
  readonly dir: string;
}

/** What {@link resolveModelDir} found. */
export interface ResolvedModelDir {
  readonly dir: string;
  /** `model`: the path itself; `run-export`: `<run>/model`; `run-checkpoint`: the newest checkpoint. */
  readonly kind: 'model' | 'run-export' | 'run-checkpoint';
}

/** The identity of a loaded base (see {@link BaseIdentity}). */
export function baseIdentityOf(base: Pick<LoadedBase, 'dir' | 'meta'>): BaseIdentity {
  return { dir: resolve(base.dir), fingerprint: base.meta?.fingerprint ?? null };
}

/** The identity of the base at `path` without loading its weights (see {@link resolveModelDir}). */
export function baseIdentity(path: string): BaseIdentity {
  const { dir } = resolveModelDir(path);
  return baseIdentityOf({ dir, meta: readBaseMeta(dir) });
}

/** Decoder of `covrl-base.json` (see {@link BaseMeta}). */
export const baseMetaDecoder: Decoder<BaseMeta> = (v, at) =>
  shape(
    {
      command: string,
      createdAt: string,
      config: unknownValue,
      fingerprint: string,
      step: integerStep,
    },
    { eval: record(finite), method: string, trainedFrom: string },
  )(v, at) as unknown as BaseMeta;

/** `pretrain` records step -1 when it never evaluated; otherwise a step count. */
const integerStep: Decoder<number> = (v, at) => (v === -1 ? -1 : count(v, at));

/**
 * `covrl-base.json` of a model directory, when it has one, decoded against its schema: a damaged
 * file is an error naming the file and the field.
 */
export function readBaseMeta(dir: string): BaseMeta | undefined {
  const p = join(dir, 'covrl-base.json');
  if (!existsSync(p)) return undefined;
  return readJsonFile(
    p,
    baseMetaDecoder,
    'the model directory is damaged: recreate it (`covrl pretrain --force`, or rerun the training that exported it)',
  );
}

/** Where a run's final model is exported (see `train/trainer.ts`). */
export const RUN_MODEL_DIR = 'model';

function newestCheckpoint(checkpoints: string, asked: string): ResolvedModelDir {
  // `latest.json` decoded against its schema; a save that stopped between its two renames leaves
  // the step's complete `.old` copy, which this returns.
  const dir = latestCheckpointDir(checkpoints) as string;
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(
      `${asked}: its newest checkpoint ${dir} was written by an older covrl and holds no model config; ` +
        'finish the run with `covrl train --resume` (it exports <run>/model) and evaluate that',
    );
  }
  return { dir, kind: 'run-checkpoint' };
}

/**
 * The model directory meant by `path`: a model directory itself (a `covrl pretrain` output, a
 * run's export `<run>/model`, a checkpoint `<run>/checkpoints/step-NNNNNN`, or any HF-like
 * directory with `config.json`); a run directory (its exported `model/`, else its newest
 * checkpoint, for a run that was interrupted or is still going); or a run's `checkpoints/`
 * directory (its newest checkpoint).
 */
export function resolveModelDir(path: string): ResolvedModelDir {
  if (!existsSync(path)) {
    throw new Error(
      `${path}: model directory not found; create one with \`covrl pretrain --out ${path}\` or \`covrl train --out <run>\``,
    );
  }
  if (existsSync(join(path, 'config.json'))) return { dir: path, kind: 'model' };
  const exported = join(path, RUN_MODEL_DIR);
  if (existsSync(join(exported, 'config.json'))) return { dir: exported, kind: 'run-export' };
  if (existsSync(join(path, 'checkpoints', 'latest.json'))) {
    return newestCheckpoint(join(path, 'checkpoints'), path);
  }
  if (existsSync(join(path, 'latest.json'))) return newestCheckpoint(path, path);
  if (existsSync(join(path, 'state.json'))) {
    throw new Error(
      `${path}: a checkpoint written by an older covrl, without its model config; ` +
        'finish the run with `covrl train --resume` (it exports <run>/model) and evaluate that',
    );
  }
  throw new Error(
    `${path}: not a model directory (no config.json) nor a run directory (no model/ or checkpoints/); ` +
      'pass a `covrl pretrain` output, a `covrl train` run directory or one of its checkpoints',
  );
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

/**
 * Load a model directory (weights, tokenizer and, when present, `covrl-base.json`). `path` may
 * also be a run directory or a checkpoint (see {@link resolveModelDir}).
 */
export async function loadBase(path: string, seed = 0): Promise<LoadedBase> {
  const { dir } = resolveModelDir(path);
  const { model, tokenizer } = await loadCausalLM(dir, {
    seed,
    matMulGradient: preferredMatMulGradient(),
  });
  return { model, tokenizer, meta: readBaseMeta(dir), dir };
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

/**
 * {@link saveBase} as one atomic step for the whole directory: the files are written into a
 * temporary sibling, which then replaces `dir` by rename, so a reader sees the old model or the
 * new one, never a mix (used for a run's final export, `<run>/model`).
 */
export async function saveBaseAtomic(
  dir: string,
  model: CausalLM,
  tokenizer: CharTokenizer | HfTokenizer,
  meta: BaseMeta,
): Promise<void> {
  const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.tmp`);
  // A kill between the two renames of an earlier export left `.model.<pid>.old`: put it back.
  recoverDirAside(dirname(dir));
  rmSync(tmp, { recursive: true, force: true });
  await saveBase(tmp, model, tokenizer, meta);
  swapDirInto(tmp, dir, 'saveBaseAtomic');
}
