/**
 * Slow end-to-end smoke of the README's main job, `covrl compare --preset quick`, driven through
 * the real command-line parser: the quick preset must find the embedded base model (if its
 * fingerprint drifted, `compare` would silently pretrain a new base for many minutes), every
 * method must train from it at the preset's real sizes (model, batch, group size, trace length)
 * over the preset's two seeds with finite metrics, checkpoints and in-run evaluations, and the
 * report must be written and rebuildable. Only the steps and the evaluation questions are cut, so
 * it takes under two minutes on two cores, with or without OpenBLAS. The fast suite's compare test
 * uses a tiny freshly pretrained model instead.
 *
 * Run with `npm run test:slow`.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRunCommands } from './commands/run-commands.js';
import { COMPARE_METHODS, embeddedBaseDir } from './compare.js';
import { readLog } from './run/log.js';
import { checkResults } from './report/results.js';

const STEPS = 4;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'covrl-compare-quick-'));
  // The app's backend; IS_TEST's per-kernel leak check misfires on wasm custom-gradient ops (see
  // test-support/tf-setup.ts).
  tf.env().set('IS_TEST', false);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tf.setBackend('cpu');
  tf.env().set('IS_TEST', true);
});

/** `covrl <args>` in this process, as `apps/covrl/src/cli.ts` builds it. */
async function covrl(...args: string[]): Promise<void> {
  const program = new Command().name('covrl').exitOverride();
  program.addOption(new Option('--backend <name>'));
  registerRunCommands(program);
  await program.parseAsync(args, { from: 'user' });
}

describe('covrl compare --preset quick (shortened)', () => {
  it('reuses the embedded base, trains every method, writes and rebuilds the report', async () => {
    const out = join(dir, 'compare');
    const before = tf.memory().numTensors;
    await covrl(
      '--backend',
      'wasm',
      'compare',
      '--preset',
      'quick',
      '--out',
      out,
      '--set',
      `train.steps=${STEPS}`,
      '--set',
      'train.evalEvery=2',
      '--set',
      'train.checkpointEvery=2',
      '--set',
      'eval.maxQuestions=16',
    );
    expect(tf.memory().numTensors).toBe(before);

    const results = checkResults(
      JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as unknown,
      'results.json',
    );
    // No base was pretrained: the quick preset matches the embedded base's fingerprint.
    expect((results.config as { baseDir?: unknown }).baseDir).toBe(embeddedBaseDir());
    expect(existsSync(join(out, 'base'))).toBe(false);

    // The preset's own seeds (1 and 2): the base once per seed, then every method per seed.
    expect(results.runs.map((r) => `${r.label}/${r.seed}`)).toEqual(
      ['base', ...COMPARE_METHODS].flatMap((label) => [`${label}/1`, `${label}/2`]),
    );
    expect(results.splits).toEqual(['in-domain', 'transfer', 'hard']);
    for (const run of results.runs) {
      for (const split of results.splits) {
        const s = run.splits[split];
        expect(s, `${run.label}: ${split}`).toBeDefined();
        expect(s?.greedy.total, `${run.label}: ${split}`).toBeGreaterThan(0);
        expect(s?.sampled.k).toBe(4);
      }
      if (run.label === 'base') continue;
      expect(run.curves['step'], run.label).toEqual([1, 2, 3, 4]);
      const runDir = run.runDir ?? '';
      const steps = readLog(join(runDir, 'metrics.jsonl')).filter((r) => r.type === 'step');
      expect(steps, run.label).toHaveLength(STEPS);
      for (const r of steps) {
        if (r.type !== 'step') continue;
        for (const [key, value] of Object.entries(r.metrics)) {
          if (key.startsWith('loss/') || key.startsWith('reward/')) {
            expect(Number.isFinite(value), `${run.label} step ${r.step} ${key}`).toBe(true);
          }
        }
      }
      expect(readdirSync(join(runDir, 'checkpoints')).length, run.label).toBeGreaterThan(0);
    }

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    for (const method of COMPARE_METHODS) expect(html).toContain(method);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');

    // `covrl report` rebuilds the same Markdown from results.json alone.
    rmSync(join(out, 'report.md'));
    await covrl('report', out);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(markdown);
  }, 600_000);
});
