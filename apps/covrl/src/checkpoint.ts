/**
 * Checkpoints: weights, optimizer state, step, RNG and method state, data cursor and the resolved
 * config, in one directory per step. Each checkpoint directory is also a loadable model directory
 * in the Hugging Face-like layout `covrl pretrain` writes (`config.json`, `model.safetensors`, the
 * tokenizer), so `covrl eval --base <run>/checkpoints/step-000020` and `train --base` read it:
 *
 * ```
 * <run>/checkpoints/step-000020/config.json                 model config (HF)
 * <run>/checkpoints/step-000020/model.safetensors           weights, HF names (F32)
 * <run>/checkpoints/step-000020/covrl-char-tokenizer.json   tokenizer (or tokenizer.json)
 * <run>/checkpoints/step-000020/optimizer.safetensors       AdamW moments `m/<name>`, `v/<name>`
 * <run>/checkpoints/step-000020/state.json                  step, cursor, RNG, method state, config
 * <run>/checkpoints/latest.json                             { "step": 20, "dir": "step-000020" }
 * ```
 *
 * Checkpoints written before the model files were added (`model.safetensors` in canonical names,
 * no `config.json`) still resume; they are not loadable as models.
 *
 * A checkpoint is written into a temporary directory `.step-NNNNNN.<pid>.tmp`, every file
 * fsynced, and then renamed into place; `latest.json` is replaced atomically afterwards. Saving a
 * step that already has a directory (a resumed run saving its resume step again) moves the old
 * one aside to `.step-NNNNNN.<pid>.old` first, renames the new one in and only then removes the
 * old one, so the step's directory or its `.old` copy is complete at every moment. A crash at any
 * point leaves `latest.json` pointing at a complete checkpoint: the step directory, or (between
 * the two renames) its `.old` copy, which {@link latestCheckpointDir} falls back to and the next
 * save puts back. Each save sweeps the `.tmp` directories crashed processes left behind.
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  loadPretrainedFiles,
  parseSafetensors,
  savePretrainedFiles,
  serializeSafetensors,
} from '@covrl/models';
import type { CharTokenizer, HfTokenizer, ModelConfig } from '@covrl/models';
import { writeFileAtomicSync } from './util/atomic.js';
import type { BaseIdentity } from './model-io.js';

export interface CheckpointState {
  readonly step: number;
  /** Examples consumed so far (data order is a pure function of (seed, cursor)). */
  readonly dataCursor: number;
  readonly optimizerStep: number;
  /** Seed material of every RNG in use (sampling seeds derive from (seed, step)). */
  readonly rng: Readonly<Record<string, number>>;
  /** Method-specific state (RLPR's std-filter EMA and frozen baselines, …). */
  readonly methodState: unknown;
  readonly config: unknown;
  /** The base model the run started from (absent in checkpoints of older covrl versions). */
  readonly base?: BaseIdentity;
  readonly metricsAtStep?: Readonly<Record<string, number>>;
}

export interface Checkpoint {
  readonly dir: string;
  readonly state: CheckpointState;
  readonly weights: Record<string, tf.Tensor>;
  readonly optimizer: Record<string, tf.Tensor>;
}

type Named = Readonly<Record<string, tf.Tensor>>;

/** What makes a checkpoint a model directory: the model's config and its tokenizer. */
export interface CheckpointModel {
  readonly config: ModelConfig;
  readonly tokenizer: CharTokenizer | HfTokenizer;
}

/** Everything one checkpoint holds. */
export interface CheckpointFiles {
  readonly state: CheckpointState;
  /** Model weights by canonical name (float32). */
  readonly weights: Named;
  /** Optimizer moments by name (float32). */
  readonly optimizer: Named;
  readonly model: CheckpointModel;
}

async function floatEntries(
  tensors: Named,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') {
      throw new Error(
        `saveCheckpoint: tensor '${name}' has dtype ${t.dtype}; only float32 is saved`,
      );
    }
    out[name] = { shape: t.shape.slice(), data: (await t.data()) as Float32Array };
  }
  return out;
}

async function toSafetensors(
  tensors: Named,
  metadata: Record<string, string>,
): Promise<Uint8Array> {
  return serializeSafetensors(await floatEntries(tensors), metadata);
}

function fromSafetensors(path: string): Record<string, tf.Tensor> {
  const parsed = parseSafetensors(new Uint8Array(readFileSync(path)), { file: path });
  const out: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(parsed.tensors)) {
    out[name] = tf.tensor(t.data as Float32Array, [...t.shape], 'float32');
  }
  return out;
}

const stepDir = (step: number): string => `step-${String(step).padStart(6, '0')}`;

/** `.step-NNNNNN.<pid>.tmp` (being written) and `.step-NNNNNN.<pid>.old` (being replaced). */
const ASIDE = /^\.(step-\d{6})\.(\d+)\.(tmp|old)$/;

/** Whether process `pid` is running (EPERM: it is, under another user). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clean up after processes that crashed while saving (and after this process's own earlier
 * attempts): a `.old` copy whose step directory is missing is put back (the crash came between
 * the two renames), every other `.old` and every `.tmp` is removed. Directories of a running
 * process other than this one are left alone.
 */
function sweepAside(root: string): void {
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    const m = ASIDE.exec(entry);
    if (m === null) continue;
    const [, step, pid, kind] = m;
    if (Number(pid) !== process.pid && alive(Number(pid))) continue;
    const path = join(root, entry);
    if (kind === 'old' && !existsSync(join(root, step as string))) {
      renameSync(path, join(root, step as string));
    } else {
      rmSync(path, { recursive: true, force: true });
    }
  }
}

/** A complete `.old` copy of `name` left by a save that stopped between its two renames. */
function asideCopy(root: string, name: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const old = readdirSync(root)
    .filter((d) => {
      const m = ASIDE.exec(d);
      return m !== null && m[1] === name && m[3] === 'old';
    })
    .sort()
    .at(-1);
  return old === undefined ? undefined : join(root, old);
}

/**
 * Write a checkpoint atomically and point `latest.json` at it. Older checkpoints beyond `keep`
 * are removed only after the new one is complete.
 */
export async function saveCheckpoint(
  root: string,
  files: CheckpointFiles,
  keep = 2,
): Promise<string> {
  const { state } = files;
  const name = stepDir(state.step);
  const final = join(root, name);
  const tmp = join(root, `.${name}.${process.pid}.tmp`);
  const old = join(root, `.${name}.${process.pid}.old`);
  sweepAside(root);
  const meta = { step: String(state.step), format: 'covrl-checkpoint-2' };
  // The model files in the HF-like layout (every file written atomically into `tmp`).
  await savePretrainedFiles(tmp, {
    config: files.model.config,
    weights: await floatEntries(files.weights),
    tokenizer: files.model.tokenizer,
    metadata: { step: meta.step, covrl: meta.format },
  });
  writeFileAtomicSync(
    join(tmp, 'optimizer.safetensors'),
    await toSafetensors(files.optimizer, meta),
  );
  writeFileAtomicSync(join(tmp, 'state.json'), `${JSON.stringify(state, null, 1)}\n`);
  // Never a moment without a complete copy of this step: the old one is moved aside, not removed,
  // until the new one is in place.
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  writeFileAtomicSync(
    join(root, 'latest.json'),
    `${JSON.stringify({ step: state.step, dir: name })}\n`,
  );
  rmSync(old, { recursive: true, force: true });
  const older = readdirSync(root)
    .filter((d) => /^step-\d{6}$/.test(d) && d !== name)
    .sort();
  for (const d of older.slice(0, Math.max(0, older.length - (keep - 1)))) {
    rmSync(join(root, d), { recursive: true, force: true });
  }
  return final;
}

/**
 * The directory of the newest complete checkpoint under `root`, or undefined when there is none:
 * the step directory `latest.json` names or, when a save stopped between its two renames, that
 * step's `.old` copy (the next save puts it back).
 */
export function latestCheckpointDir(root: string): string | undefined {
  const step = latestCheckpointStep(root);
  if (step === undefined) return undefined;
  const dir = join(root, stepDir(step));
  return existsSync(dir) ? dir : (asideCopy(root, stepDir(step)) ?? dir);
}

/** The step of the newest complete checkpoint under `root`, or undefined when there is none. */
export function latestCheckpointStep(root: string): number | undefined {
  const pointer = join(root, 'latest.json');
  if (!existsSync(pointer)) return undefined;
  const parsed = JSON.parse(readFileSync(pointer, 'utf8')) as { step?: unknown };
  if (typeof parsed.step !== 'number') {
    throw new Error(`${pointer}: field 'step' must be a number; delete the file to start afresh`);
  }
  return parsed.step;
}

/** Load the newest complete checkpoint under `root` (tensors are owned by the caller). */
export async function loadCheckpoint(root: string): Promise<Checkpoint | undefined> {
  const dir = latestCheckpointDir(root);
  if (dir === undefined) return undefined;
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json']) {
    if (!existsSync(join(dir, f))) {
      throw new Error(`${join(dir, f)}: missing from checkpoint; it is incomplete or was moved`);
    }
  }
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  let weights: Record<string, tf.Tensor>;
  if (existsSync(join(dir, 'config.json'))) {
    // A model directory: HF names, converted back to the canonical ones (exactly: F32 throughout).
    const files = await loadPretrainedFiles(dir);
    weights = {};
    for (const [name, t] of Object.entries(files.weights)) {
      weights[name] = tf.tensor(t.data, [...t.shape], 'float32');
    }
  } else {
    weights = fromSafetensors(join(dir, 'model.safetensors'));
  }
  return {
    dir,
    state,
    weights,
    optimizer: fromSafetensors(join(dir, 'optimizer.safetensors')),
  };
}
