/**
 * Pinned short trajectories, one per method: three steps of 4 questions × 4 rollouts (seed 5,
 * the quick preset otherwise) from the embedded base model `apps/covrl/assets/base-quick`, which
 * answers about a quarter of its sampled additions right, so every method has a learning signal
 * at every step. Each pinned loss, reward and gradient norm must be non-zero at every step (checked
 * on every run, so regenerated pins cannot record "no learning signal"), and must match
 * `__pins__/trajectories.json` to a relative 1e-3. A missing pin file or method is a failure.
 *
 * After an intended numeric change, regenerate the pins once and commit them with that change:
 *
 *   COVRL_UPDATE_PINS=1 npx vitest run --project fast apps/covrl/src/train/trajectories.test.ts
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import type { Config } from '../config/schema.js';
import type { Method } from '../methods/index.js';
import { decodeConfig } from '../config/decode.js';
import { readLog } from '../run/log.js';
import { loadBase } from '../model-io.js';
import { train } from './trainer.js';

/** The embedded base the `quick` and `standard` presets were made for. */
const BASE = fileURLToPath(new URL('../../assets/base-quick', import.meta.url));

/** The pinned settings: everything else is the quick preset of each method. */
const PIN_FLAGS: Readonly<Record<string, string>> = {
  seed: '5',
  'train.steps': '3',
  'train.questionsPerStep': '4',
  'train.groupSize': '4',
  'train.evalEvery': '100',
  'train.checkpointEvery': '100',
};

/** What is pinned per method: its rewards, its loss terms and the gradient norm. */
const TRACKED: Readonly<Record<Method, readonly string[]>> = {
  covrl: [
    'reward/mean',
    'reward/prior/mean',
    'reward/posterior/mean',
    'loss/total',
    'loss/pg',
    'loss/kl',
    'loss/nll',
    'grad/norm',
  ],
  verifree: ['reward/mean', 'loss/total', 'loss/pg', 'loss/answer', 'grad/norm'],
  rlpr: ['reward/mean', 'reward/raw_prob_mean', 'loss/total', 'loss/pg', 'grad/norm'],
  grpo: ['reward/mean', 'loss/total', 'loss/pg', 'grad/norm'],
};

const RELATIVE = 1e-3;

function pinConfig(method: Method): Config {
  const r = decodeConfig({ method, preset: 'quick', flags: PIN_FLAGS });
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

const PINS = new URL('./__pins__/trajectories.json', import.meta.url);
const UPDATE = process.env['COVRL_UPDATE_PINS'] === '1';
type Pins = Record<string, Record<string, number[]>>;
const pinned: Pins | undefined = existsSync(PINS)
  ? (JSON.parse(readFileSync(PINS, 'utf8')) as Pins)
  : undefined;
const updated: Pins = {};

/** The pins as JSON with one line per metric (the layout prettier keeps). */
function formatPins(pins: Pins): string {
  const methods = Object.entries(pins).map(([method, metrics]) => {
    const lines = Object.entries(metrics).map(
      ([k, v]) => `    ${JSON.stringify(k)}: [${v.map((x) => JSON.stringify(x)).join(', ')}]`,
    );
    return `  ${JSON.stringify(method)}: {\n${lines.join(',\n')}\n  }`;
  });
  return `{\n${methods.join(',\n')}\n}\n`;
}

let dir: string;

beforeAll(async () => {
  // The app's default backend; IS_TEST's leak check misfires on wasm (see tf-setup.ts).
  tf.env().set('IS_TEST', false);
  await tf.setBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'covrl-pins-'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tf.setBackend('cpu');
  tf.env().set('IS_TEST', true);
});

describe.each(['covrl', 'verifree', 'rlpr', 'grpo'] as const)('train --method %s', (method) => {
  it('trains the base: finite metrics, parameters change, a learning signal at every step, the pinned trajectory holds', async () => {
    if (!UPDATE && pinned === undefined) {
      throw new Error(
        `${fileURLToPath(PINS)} is missing; regenerate it with COVRL_UPDATE_PINS=1 (see this file's header)`,
      );
    }
    const runDir = join(dir, method);
    const before = tf.memory().numTensors;
    const out = await train({
      config: pinConfig(method),
      baseDir: BASE,
      runDir,
      command: 'test',
      quiet: true,
      finalEval: false,
    });
    const base = await loadBase(BASE, 0);
    let changed = 0;
    for (const [name, v] of out.model.variables()) {
      const b = base.model.variables().get(name);
      if (b === undefined) throw new Error(`missing ${name}`);
      changed += tf.tidy(() => tf.max(tf.abs(tf.sub(v, b))).dataSync()[0] as number) > 0 ? 1 : 0;
    }
    base.model.dispose();
    out.model.dispose();
    expect(changed).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);

    const steps = readLog(join(runDir, 'metrics.jsonl')).flatMap((r) =>
      r.type === 'step' ? [r.metrics] : [],
    );
    expect(steps).toHaveLength(3);
    const trajectory: Record<string, number[]> = {};
    steps.forEach((metrics, i) => {
      for (const [k, v] of Object.entries(metrics)) {
        if (k.startsWith('loss/') || k.startsWith('reward/')) expect(Number.isFinite(v)).toBe(true);
      }
      // A learning signal: some group has unequal rewards, so the update is not empty.
      expect(metrics['advantage/zero_group_fraction'], `step ${i + 1}`).toBeLessThan(1);
      for (const k of TRACKED[method]) {
        const v = metrics[k];
        expect(v, `${k} at step ${i + 1}`).toBeDefined();
        expect(Math.abs(v as number), `${k} at step ${i + 1} is zero`).toBeGreaterThan(0);
        (trajectory[k] ??= []).push(v as number);
      }
    });

    if (UPDATE) {
      updated[method] = trajectory;
      writeFileSync(PINS, formatPins({ ...pinned, ...updated }));
      return;
    }
    const pins = pinned?.[method];
    if (pins === undefined) {
      throw new Error(`no pinned trajectory for '${method}'; regenerate with COVRL_UPDATE_PINS=1`);
    }
    expect(Object.keys(pins).sort()).toEqual([...TRACKED[method]].sort());
    for (const [k, values] of Object.entries(pins)) {
      const got = trajectory[k] ?? [];
      expect(got).toHaveLength(values.length);
      values.forEach((v, i) => {
        const tolerance = RELATIVE * Math.abs(v) + 1e-9;
        expect(
          Math.abs((got[i] as number) - v),
          `${k} at step ${i + 1}: ${got[i]} vs ${v}`,
        ).toBeLessThanOrEqual(tolerance);
      });
    }
  });
});

describe('the trainer attaches each runner to the base model', () => {
  const events = (runDir: string): string[] =>
    readLog(join(runDir, 'metrics.jsonl')).flatMap((r) => (r.type === 'event' ? [r.message] : []));

  it("writes a runner's warnings to the run log (CoVRL: α 0.1 with G 4 is all-posterior)", async () => {
    const runDir = join(dir, 'warn');
    const config = decodeConfig({
      method: 'covrl',
      preset: 'quick',
      flags: { ...PIN_FLAGS, 'train.steps': '1', 'covrl.alpha': '0.1' },
    });
    if (E.isLeft(config)) throw new Error(config.left.join('\n'));
    const out = await train({
      config: config.right,
      baseDir: BASE,
      runDir,
      command: 'test',
      quiet: true,
      finalEval: false,
    });
    out.model.dispose();
    expect(events(runDir).some((m) => /^warning: .*all-posterior/.test(m))).toBe(true);
  });

  it('GRPO with klCoef > 0 resumes exactly: the KL reference stays the base model', async () => {
    const r = decodeConfig({
      method: 'grpo',
      preset: 'quick',
      flags: {
        ...PIN_FLAGS,
        'train.steps': '2',
        'train.checkpointEvery': '1',
        'grpo.klCoef': '0.5',
      },
    });
    if (E.isLeft(r)) throw new Error(r.left.join('\n'));
    const config = r.right;
    const run = async (runDir: string, extra: { stopAfter?: number; resume?: boolean }) => {
      const out = await train({
        config,
        baseDir: BASE,
        runDir,
        command: 't',
        quiet: true,
        finalEval: false,
        ...extra,
      });
      out.model.dispose();
    };
    await run(join(dir, 'kl-straight'), {});
    await run(join(dir, 'kl-resumed'), { stopAfter: 1 });
    await run(join(dir, 'kl-resumed'), { resume: true });
    const kl = (runDir: string) =>
      readLog(join(runDir, 'metrics.jsonl')).flatMap((x) =>
        x.type === 'step' ? [x.metrics['loss/kl'] as number] : [],
      );
    const straight = kl(join(dir, 'kl-straight'));
    expect(straight).toHaveLength(2);
    // Positive at step 2 against the base; a resumed run whose reference were the restored
    // checkpoint would log a different (smaller) KL there.
    expect(straight[1]).toBeGreaterThan(0);
    expect(kl(join(dir, 'kl-resumed'))).toEqual(straight);
  });
});
