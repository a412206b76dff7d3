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
 *
 * Every checkpoint also carries `manifest.json`: the size and SHA-256 of each of its files, read
 * back from disk after writing. {@link loadCheckpoint} verifies them and decodes `state.json` and
 * `latest.json` against their schemas; a checkpoint that fails (a flipped byte, a short write, a
 * damaged state) is skipped with a warning naming the file and the previous complete checkpoint
 * is used instead (the run then redoes the steps after it, bit-identically).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, serializeSafetensors } from '@covrl/models';
import { loadPretrainedFiles, savePretrainedFiles } from '@covrl/models/node';
import type { CharTokenizer, HfTokenizer, ModelConfig } from '@covrl/models';
import {
  fileError,
  fsyncDir,
  processAlive,
  sweepTempFiles,
  writeFileAtomicSync,
} from './util/atomic.js';
import { faultPoint } from './util/fault.js';
import {
  count,
  decodeJsonText,
  finite,
  object,
  readJsonFile,
  record,
  shape,
  string,
  unknownValue,
} from './util/json-schema.js';
import type { Decoder } from './util/json-schema.js';
import { baseIdentityDecoder } from './run/base-identity.js';
import type { BaseIdentity } from './run/base-identity.js';

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
  /** Checkpoints skipped because they failed verification, each naming the file. */
  readonly warnings: readonly string[];
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
const STEP_DIR = /^step-(\d{6})$/;

/** `.step-NNNNNN.<pid>.tmp` (being written) and `.step-NNNNNN.<pid>.old` (being replaced). */
const ASIDE = /^\.(step-\d{6})\.(\d+)\.(tmp|old)$/;

const REMEDY_STATE =
  'the checkpoint is damaged: delete this step directory to resume from the one before, or start afresh with another --out';

/** Decoder of `state.json` (see {@link CheckpointState}). */
export const checkpointStateDecoder: Decoder<CheckpointState> = (v, at) => {
  const o = shape(
    {
      step: count,
      dataCursor: count,
      optimizerStep: count,
      rng: record(finite),
      methodState: unknownValue,
      config: object,
    },
    { base: baseIdentityDecoder, metricsAtStep: record(finite) },
  )(v, at);
  return o as unknown as CheckpointState;
};

/** `latest.json`: the newest complete checkpoint's step and directory name. */
const latestDecoder: Decoder<{ step: number; dir: string }> = (v, at) => {
  const o = shape({ step: count, dir: string })(v, at);
  if (o.dir !== stepDir(o.step)) {
    throw new Error(`field 'dir': '${o.dir}' does not match step ${o.step} (${stepDir(o.step)})`);
  }
  return { step: o.step, dir: o.dir };
};

/** One file of a checkpoint's manifest. */
export interface ManifestEntry {
  readonly bytes: number;
  readonly sha256: string;
}

/** `manifest.json`: every other file of the checkpoint with its size and SHA-256. */
const manifestDecoder: Decoder<Record<string, ManifestEntry>> = (v, at) => {
  const o = shape({ format: string, files: record(shape({ bytes: count, sha256: string })) })(
    v,
    at,
  );
  const files: Record<string, ManifestEntry> = {};
  for (const [name, e] of Object.entries(o.files))
    files[name] = { bytes: e.bytes, sha256: e.sha256 };
  return files;
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Size and SHA-256 of every file in `dir` (the checkpoint's own manifest excluded). */
function manifestOf(dir: string): Record<string, ManifestEntry> {
  const files: Record<string, ManifestEntry> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name === 'manifest.json') continue;
    const bytes = readFileSync(join(dir, name));
    files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  }
  return files;
}

/**
 * Check a checkpoint directory against its manifest. Returns undefined when every listed file has
 * its size and SHA-256, else the first problem naming the file. A checkpoint written before
 * manifests existed (no `manifest.json`) passes with `unverified`.
 */
export function verifyCheckpoint(dir: string): { problem?: string; unverified?: boolean } {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) {
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json']) {
      if (!existsSync(join(dir, f))) return { problem: `${join(dir, f)}: missing` };
    }
    return { unverified: true };
  }
  let files: Record<string, ManifestEntry>;
  try {
    files = readJsonFile(path, manifestDecoder, REMEDY_STATE);
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
  for (const [name, want] of Object.entries(files)) {
    const file = join(dir, name);
    if (!existsSync(file)) return { problem: `${file}: missing (listed in manifest.json)` };
    const bytes = readFileSync(file);
    if (bytes.length !== want.bytes) {
      return {
        problem: `${file}: ${bytes.length} bytes, the manifest says ${want.bytes} (truncated or replaced)`,
      };
    }
    if (sha256(bytes) !== want.sha256) {
      return { problem: `${file}: SHA-256 differs from the manifest (the file was corrupted)` };
    }
  }
  return {};
}

/**
 * Clean up after processes that crashed while saving (and after this process's own earlier
 * attempts): a `.old` copy whose step directory is missing is put back (the crash came between
 * the two renames), every other `.old` and every `.tmp` is removed, and so are the temporary
 * files of atomic writes (`.latest.json.<pid>.<hex>.tmp`). Entries of a running process other
 * than this one are left alone.
 */
function sweepAside(root: string): void {
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    const m = ASIDE.exec(entry);
    if (m === null) continue;
    const [, step, pid, kind] = m;
    if (Number(pid) !== process.pid && processAlive(Number(pid))) continue;
    const path = join(root, entry);
    if (kind === 'old' && !existsSync(join(root, step as string))) {
      renameSync(path, join(root, step as string));
    } else {
      rmSync(path, { recursive: true, force: true });
    }
  }
  sweepTempFiles(root);
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

/** Rename with a fault point before it and the paths in any error. */
function renameChecked(from: string, to: string): void {
  faultPoint(`rename ${to}`);
  try {
    renameSync(from, to);
  } catch (error) {
    throw fileError('saveCheckpoint', 'rename', `${from} → ${to}`, error);
  }
}

/** Write every file of a checkpoint into `tmp`, then its manifest. */
async function writeCheckpointFiles(tmp: string, files: CheckpointFiles): Promise<void> {
  const { state } = files;
  const meta = { step: String(state.step), format: 'covrl-checkpoint-2' };
  faultPoint(`write ${tmp}/model files`);
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
  // Sizes and hashes of what is on disk now (read back, so a short write anywhere shows).
  const manifest = { format: 'covrl-checkpoint-manifest-1', files: manifestOf(tmp) };
  writeFileAtomicSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  fsyncDir(tmp);
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
  const name = stepDir(files.state.step);
  const final = join(root, name);
  const tmp = join(root, `.${name}.${process.pid}.tmp`);
  const old = join(root, `.${name}.${process.pid}.old`);
  sweepAside(root);
  await writeCheckpointFiles(tmp, files);
  // Never a moment without a complete copy of this step: the old one is moved aside, not removed,
  // until the new one is in place.
  if (existsSync(final)) renameChecked(final, old);
  renameChecked(tmp, final);
  fsyncDir(root);
  writeFileAtomicSync(
    join(root, 'latest.json'),
    `${JSON.stringify({ step: files.state.step, dir: name })}\n`,
  );
  faultPoint(`remove ${old}`);
  rmSync(old, { recursive: true, force: true });
  const older = readdirSync(root)
    .filter((d) => STEP_DIR.test(d) && d !== name)
    .sort();
  for (const d of older.slice(0, Math.max(0, older.length - (keep - 1)))) {
    faultPoint(`remove ${join(root, d)}`);
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

/**
 * The step of the newest complete checkpoint under `root`, or undefined when there is none.
 * `latest.json` is decoded against its schema: a damaged pointer is an error naming the file
 * and the field.
 */
export function latestCheckpointStep(root: string): number | undefined {
  const pointer = join(root, 'latest.json');
  if (!existsSync(pointer)) return undefined;
  return readJsonFile(
    pointer,
    latestDecoder,
    `the checkpoint pointer is damaged: delete ${pointer} to resume from the newest step directory that verifies, or start afresh with another --out`,
  ).step;
}

/**
 * The checkpoints to try on resume, newest first: the one `latest.json` names (or its `.old`
 * copy), then every older step directory. A `latest.json` that is damaged falls back to the step
 * directories themselves (each still verified against its manifest).
 */
function candidates(root: string, warnings: string[]): { dir: string; step: number }[] {
  const steps = existsSync(root)
    ? readdirSync(root)
        .map((d) => STEP_DIR.exec(d))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
    : [];
  let newest: number | undefined;
  try {
    newest = latestCheckpointStep(root);
  } catch (error) {
    warnings.push(
      `${error instanceof Error ? error.message : String(error)}; trying the step directories`,
    );
  }
  const out: { dir: string; step: number }[] = [];
  if (newest !== undefined) {
    const dir = latestCheckpointDir(root) as string;
    out.push({ dir, step: newest });
  }
  for (const step of steps.sort((a, b) => b - a)) {
    if (newest !== undefined && step >= newest) continue;
    out.push({ dir: join(root, stepDir(step)), step });
  }
  return out;
}

/** Read one verified checkpoint directory (tensors owned by the caller). */
async function readCheckpointDir(dir: string, step: number): Promise<Checkpoint> {
  const statePath = join(dir, 'state.json');
  const state = decodeJsonText(
    readFileSync(statePath, 'utf8'),
    statePath,
    checkpointStateDecoder,
    REMEDY_STATE,
  );
  if (state.step !== step) {
    throw new Error(
      `${statePath}: field 'step' is ${state.step} in the directory of step ${step}; ${REMEDY_STATE}`,
    );
  }
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
    warnings: [],
  };
}

/**
 * Load the newest complete checkpoint under `root` whose files match their manifest (tensors are
 * owned by the caller). A checkpoint that fails verification (a flipped byte, a truncated file,
 * a damaged `state.json`) is skipped with a warning naming the file, and the one before it is
 * used; the returned `warnings` say so. Throws naming every problem when none verifies.
 */
export async function loadCheckpoint(root: string): Promise<Checkpoint | undefined> {
  const warnings: string[] = [];
  const problems: string[] = [];
  const list = candidates(root, warnings);
  if (list.length === 0) {
    if (warnings.length > 0) throw new Error(warnings.join('\n'));
    return undefined;
  }
  for (const { dir, step } of list) {
    const check = verifyCheckpoint(dir);
    let problem = check.problem;
    if (problem === undefined) {
      try {
        const ckpt = await readCheckpointDir(dir, step);
        if (check.unverified === true) {
          warnings.push(
            `${dir}: no manifest.json (written by an older covrl); its files were not verified`,
          );
        }
        return { ...ckpt, warnings: [...warnings] };
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
    }
    problems.push(problem);
    warnings.push(`skipped the checkpoint ${dir}: ${problem}`);
  }
  throw new Error(
    `${root}: no checkpoint verifies:\n  ${problems.join('\n  ')}\n` +
      'restore the files from a backup, or start the run afresh with another --out',
  );
}
