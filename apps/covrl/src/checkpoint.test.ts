/**
 * Checkpoint writes on disk: `latest.json` names a complete checkpoint at every rename a save
 * makes, also when the step it names is saved again; a save that dies between its two renames
 * leaves a complete `.old` copy that readers fall back to and the next save puts back; `.tmp`
 * directories of crashed processes are swept, those of running processes left alone.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type * as NodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createCausalLM, defaultModelConfig } from '@covrl/models';
import type { CausalLM } from '@covrl/models';
import {
  latestCheckpointDir,
  latestCheckpointStep,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
import type { CheckpointFiles } from './checkpoint.js';
import { resolveModelDir } from './model-io.js';
import { makeTokenizer, tagsOf } from './task.js';
import { tinyConfig } from './testing/tiny-run.js';

// Every `renameSync` passes through `hook.rename` first (which may throw, as a crash would).
const hook = vi.hoisted(() => ({
  rename: undefined as ((from: string, to: string) => void) | undefined,
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const renameSync: typeof fs.renameSync = (from, to) => {
    hook.rename?.(String(from), String(to));
    fs.renameSync(from, to);
  };
  return { ...fs, default: { ...fs, renameSync }, renameSync };
});

const tokenizer = makeTokenizer(tagsOf(tinyConfig('covrl')));
const modelConfig = defaultModelConfig('gpt2', {
  vocabSize: tokenizer.vocabSize,
  dModel: 8,
  nLayers: 1,
  nHeads: 2,
  dFf: 8,
  maxContext: 16,
});

let root: string;
let models: CausalLM[];

beforeEach(() => {
  root = join(mkdtempSync(join(tmpdir(), 'covrl-ckpt-')), 'checkpoints');
  models = [];
});

afterEach(() => {
  hook.rename = undefined;
  for (const m of models) m.dispose();
  rmSync(join(root, '..'), { recursive: true, force: true });
});

/** A checkpoint of step `step` holding a model initialised with `seed`. */
function filesOf(step: number, seed: number): CheckpointFiles {
  const model = createCausalLM(modelConfig, { seed });
  models.push(model);
  return {
    state: {
      step,
      dataCursor: step,
      optimizerStep: step,
      rng: { seed },
      methodState: null,
      config: {},
    },
    weights: Object.fromEntries(model.variables()),
    optimizer: {},
    model: { config: modelConfig, tokenizer },
  };
}

/** The first weight of the newest checkpoint, as loaded (which model it came from). */
async function firstWeight(): Promise<number[]> {
  const ckpt = await loadCheckpoint(root);
  if (ckpt === undefined) throw new Error('no checkpoint');
  const [name] = Object.keys(ckpt.weights).sort();
  const values = Array.from((ckpt.weights[name as string] as tf.Tensor).dataSync()).slice(0, 4);
  tf.dispose([...Object.values(ckpt.weights), ...Object.values(ckpt.optimizer)]);
  return values;
}

/** Whether the directory `latest.json` resolves to holds a whole checkpoint. */
function latestIsComplete(): boolean {
  const dir = latestCheckpointDir(root);
  return (
    dir !== undefined &&
    ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json'].every((f) =>
      existsSync(join(dir, f)),
    )
  );
}

const aside = (): string[] => readdirSync(root).filter((d) => d.startsWith('.'));

describe('saveCheckpoint', () => {
  it('re-saving the step latest.json names keeps a complete checkpoint behind it at every rename', async () => {
    await saveCheckpoint(root, filesOf(1, 1));
    const first = await firstWeight();
    const seen: boolean[] = [];
    hook.rename = () => seen.push(latestIsComplete());
    await saveCheckpoint(root, filesOf(1, 2));
    hook.rename = undefined;
    // The step directory was moved aside, the new one renamed in, latest.json replaced.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every(Boolean)).toBe(true);
    expect(latestCheckpointStep(root)).toBe(1);
    expect(await firstWeight()).not.toEqual(first); // the second save's weights
    expect(aside()).toEqual([]);
  });

  it('a save that dies between its two renames leaves the old copy readable, and the next save puts it back', async () => {
    await saveCheckpoint(root, filesOf(1, 1));
    const first = await firstWeight();
    hook.rename = (from, to) => {
      if (/\.step-\d{6}\.\d+\.tmp$/.test(from) && /step-\d{6}$/.test(to)) {
        throw new Error('killed');
      }
    };
    await expect(saveCheckpoint(root, filesOf(1, 2))).rejects.toThrow('killed');
    hook.rename = undefined;
    expect(existsSync(join(root, 'step-000001'))).toBe(false);
    // latest.json still names step 1, and what it resolves to is the complete old copy.
    expect(latestCheckpointStep(root)).toBe(1);
    expect(latestIsComplete()).toBe(true);
    expect(latestCheckpointDir(root)).toMatch(/\.step-000001\.\d+\.old$/);
    expect(resolveModelDir(join(root, '..')).dir).toBe(latestCheckpointDir(root));
    expect(await firstWeight()).toEqual(first);

    await saveCheckpoint(root, filesOf(2, 3));
    expect(existsSync(join(root, 'step-000001', 'state.json'))).toBe(true);
    expect(existsSync(join(root, 'step-000002', 'state.json'))).toBe(true);
    expect(aside()).toEqual([]);
  });

  it('sweeps the .tmp directories of crashed processes and leaves those of running ones', async () => {
    const dead = join(root, '.step-000005.999999999.tmp');
    const running = join(root, `.step-000005.${process.ppid}.tmp`);
    for (const d of [dead, running]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'model.safetensors'), 'partial');
    }
    await saveCheckpoint(root, filesOf(1, 1));
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(running)).toBe(true);
    expect(latestIsComplete()).toBe(true);
  });
});
