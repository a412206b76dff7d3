/**
 * End-to-end training tests on a tiny pretrained model: resume equals straight training, a
 * non-finite loss stops the run keeping the last good checkpoint, Ctrl-C saves, and compare writes
 * its report. Each method's training (finite metrics, changing parameters, a pinned trajectory) is
 * in `trajectories.test.ts`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import type { Config, Method } from '../config/schema.js';
import { decodeConfig } from '../config/decode.js';
import { pretrain } from '../pretrain.js';
import { readLog } from '../run/log.js';
import { latestCheckpointStep } from '../checkpoint.js';
import { train } from './trainer.js';
import type { MethodRunner } from './common.js';

const TINY: Record<string, string> = {
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

function tinyConfig(method: Method, extra: Record<string, string> = {}): Config {
  const r = decodeConfig({ method, preset: 'quick', flags: { ...TINY, ...extra } });
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

let dir: string;
let baseDir: string;

beforeAll(async () => {
  // The app's default backend; about 30 times faster than cpu for these models.
  // IS_TEST's per-kernel leak check misfires on wasm custom-gradient ops (see tf-setup.ts).
  tf.env().set('IS_TEST', false);
  await tf.setBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'covrl-train-'));
  baseDir = join(dir, 'base');
  // A few pretraining steps teach the tiny model the template, so rollouts are often well formed
  // and every method sees a learning signal.
  await pretrain({ config: tinyConfig('covrl'), out: baseDir, command: 'test', quiet: true });
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tf.setBackend('cpu');
  tf.env().set('IS_TEST', true);
});

describe('resume', () => {
  it('N straight steps equal k steps, resume, N-k steps (weights and logged metrics)', async () => {
    const config = tinyConfig('covrl', { 'train.steps': '3' });
    const straight = await train({
      config,
      baseDir,
      runDir: join(dir, 'straight'),
      command: 't',
      quiet: true,
      finalEval: false,
    });
    const runDir = join(dir, 'resumed');
    const first = await train({ config, baseDir, runDir, command: 't', quiet: true, stopAfter: 1 });
    first.model.dispose();
    expect(latestCheckpointStep(join(runDir, 'checkpoints'))).toBe(1);
    const resumed = await train({
      config,
      baseDir,
      runDir,
      command: 't',
      quiet: true,
      resume: true,
      finalEval: false,
    });
    for (const [name, v] of straight.model.variables()) {
      const w = resumed.model.variables().get(name);
      if (w === undefined) throw new Error(`missing ${name}`);
      expect(Array.from(w.dataSync())).toEqual(Array.from(v.dataSync()));
    }
    const metricsOf = (p: string) =>
      readLog(join(p, 'metrics.jsonl'))
        .filter((r) => r.type === 'step')
        .map((r) => (r.type === 'step' ? r.metrics['loss/total'] : undefined));
    expect(metricsOf(runDir)).toEqual(metricsOf(join(dir, 'straight')));
    straight.model.dispose();
    resumed.model.dispose();
  });
});

describe('non-finite guard', () => {
  it('stops naming the term and step and keeps the last good checkpoint', async () => {
    const config = tinyConfig('grpo', { 'train.steps': '3' });
    const runDir = join(dir, 'nan');
    let calls = 0;
    const poisoned = (): MethodRunner => ({
      name: 'poisoned',
      getState: () => null,
      setState: () => undefined,
      step: () => {
        calls++;
        return Promise.resolve({
          metrics: { 'loss/pg': calls === 2 ? Number.NaN : 0.5, 'reward/mean': 0 },
          samples: [],
        });
      },
    });
    await expect(
      train({ config, baseDir, runDir, command: 't', quiet: true, runner: poisoned() }),
    ).rejects.toThrow(/'loss\/pg' at step 2/);
    expect(latestCheckpointStep(join(runDir, 'checkpoints'))).toBe(1);
  });
});

describe('interrupt', () => {
  it('Ctrl-C finishes the current step, saves a checkpoint and returns', async () => {
    const config = tinyConfig('grpo', { 'train.steps': '5', 'train.checkpointEvery': '100' });
    const runDir = join(dir, 'sigint');
    let calls = 0;
    const interrupting = (): MethodRunner => ({
      name: 'interrupting',
      getState: () => ({ calls }),
      setState: () => undefined,
      step: () => {
        calls++;
        // Only the trainer's own listener sees this emitted event (no signal is sent).
        if (calls === 2) process.emit('SIGINT', 'SIGINT');
        return Promise.resolve({ metrics: { 'loss/pg': 0.1, 'reward/mean': 0 }, samples: [] });
      },
    });
    const out = await train({
      config,
      baseDir,
      runDir,
      command: 't',
      quiet: true,
      runner: interrupting(),
    });
    out.model.dispose();
    expect(out.interrupted).toBe(true);
    expect(out.steps).toBe(2);
    expect(latestCheckpointStep(join(runDir, 'checkpoints'))).toBe(2);
  });
});

describe('compare', () => {
  it('evaluates the base and a method and writes results.json, report.md and report.html', async () => {
    const { compare } = await import('../compare.js');
    const out = join(dir, 'compare');
    const results = await compare({
      sources: { preset: 'quick', flags: { ...TINY, 'train.steps': '2' } },
      seeds: [1],
      out,
      base: baseDir,
      methods: ['verifree'],
      command: 'test',
      backend: 'wasm',
      version: '0.0.0',
      log: () => undefined,
    });
    expect(results.runs.map((r) => r.label)).toEqual(['base', 'verifree']);
    expect(results.splits).toEqual(['in-domain', 'transfer', 'hard']);
    for (const f of ['results.json', 'report.md', 'report.html']) {
      expect(existsSync(join(out, f))).toBe(true);
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(results.runs[1]?.curves['step']).toEqual([1, 2]);
    // Each trained run stores its own resolved config (here VeriFree's one update per batch).
    expect(results.runs[1]?.config).toMatchObject({
      method: 'verifree',
      train: { miniBatches: 1 },
    });
  });
});
