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
import { TINY, pretrainTinyBase, tinyConfig, useWasm } from '../testing/tiny-run.js';
import { readLog } from '../run/log.js';
import { latestCheckpointStep } from '../checkpoint.js';
import { train } from './trainer.js';
import type { MethodRunner } from './common.js';

let dir: string;
let baseDir: string;

let restoreBackend: () => Promise<void>;

beforeAll(async () => {
  restoreBackend = await useWasm();
  dir = mkdtempSync(join(tmpdir(), 'covrl-train-'));
  // A few pretraining steps teach the tiny model the template, so rollouts are often well formed
  // and every method sees a learning signal.
  baseDir = await pretrainTinyBase(join(dir, 'base'));
}, 120_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await restoreBackend();
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
