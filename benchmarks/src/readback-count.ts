/**
 * Counts device read-backs made by ONE call of each library loss/reward: every `dataSync`,
 * `data`, `arraySync` or `array` goes through the engine's `readSync` or `read`, which are wrapped
 * for the duration of the call. On WebGL/WebGPU each read-back stalls the pipeline, so this is the
 * number to keep low on the training hot path.
 *
 * The backend's own `readSync`/`read` are counted too (`backend*` fields): on the CPU backend some
 * kernels (`tile`, used by `broadcastTo`) read their inputs through them, which is no device
 * round trip; the engine count is the one that matters on a GPU backend.
 *
 * Three settings per function: the defaults (input validation and metrics on), metrics off
 * (`computeMetrics: false`), and metrics and validation off (`computeMetrics: false`,
 * `validate: false`). Inputs are the seeded batches of `@covrl/objectives/testing` (B = 8,
 * T = 16, A = 4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { compositeKl } from '@covrl/kl-estimators';
import { groupAdvantages } from '@covrl/grpo';
import { covrlLoss, grpoLoss, rlprLoss, verifreeLoss } from '@covrl/objectives';
import {
  disposeBatch,
  randomCovrlBatch,
  randomPolicyBatch,
  randomVerifreeBatch,
} from '@covrl/objectives/testing';
import { answerLikelihoodReward } from '@covrl/rewards';

/** Read-backs of one call in each setting (engine level; `backend*`: backend level). */
export interface ReadbackCount {
  readonly fn: string;
  readonly defaults: number;
  readonly noMetrics: number;
  readonly noMetricsNoValidation: number;
  readonly backendDefaults: number;
  readonly backendNoMetrics: number;
  readonly backendNoMetricsNoValidation: number;
}

interface Readable {
  readSync: (...a: unknown[]) => unknown;
  read: (...a: unknown[]) => Promise<unknown>;
}

/** Wraps `target.readSync` and `target.read` to count calls; returns the counter and an undo. */
function wrap(target: Readable): { count: () => number; restore: () => void } {
  const { readSync, read } = target;
  let n = 0;
  target.readSync = (...a: unknown[]) => {
    n += 1;
    return readSync.apply(target, a);
  };
  target.read = (...a: unknown[]) => {
    n += 1;
    return read.apply(target, a);
  };
  return {
    count: () => n,
    restore: () => {
      target.readSync = readSync;
      target.read = read;
    },
  };
}

/**
 * Runs `f` (inside `tf.tidy`) and returns how many read-backs it made: through the engine (every
 * `dataSync`/`data`/`arraySync`/`array`) and at the backend.
 */
export function countReadbacks(f: () => void): { engine: number; backend: number } {
  const engine = wrap(tf.engine() as unknown as Readable);
  const backend = wrap(tf.backend() as unknown as Readable);
  try {
    tf.tidy(f);
  } finally {
    engine.restore();
    backend.restore();
  }
  return { engine: engine.count(), backend: backend.count() };
}

type Settings = { computeMetrics?: boolean; validate?: boolean };
const SETTINGS: readonly Settings[] = [
  {},
  { computeMetrics: false },
  { computeMetrics: false, validate: false },
];

const shape = { batchSize: 8, traceLength: 16, answerLength: 4, seed: 1 };

/** Counts for one function: `call(settings)` runs it once on prepared inputs. */
function measure(fn: string, call: (s: Settings) => void): ReadbackCount {
  const [a, b, c] = SETTINGS.map((s) => countReadbacks(() => call(s))) as [
    { engine: number; backend: number },
    { engine: number; backend: number },
    { engine: number; backend: number },
  ];
  return {
    fn,
    defaults: a.engine,
    noMetrics: b.engine,
    noMetricsNoValidation: c.engine,
    backendDefaults: a.backend,
    backendNoMetrics: b.backend,
    backendNoMetricsNoValidation: c.backend,
  };
}

/** Read-back counts of covrlLoss, verifreeLoss, rlprLoss, grpoLoss and three building blocks. */
export function readbackCounts(): ReadbackCount[] {
  const covrl = randomCovrlBatch(shape);
  const verifree = randomVerifreeBatch(shape);
  const policy = randomPolicyBatch(shape);
  try {
    // The options objects are spread loosely: `validate` is ignored by a version without it.
    const opts = (s: Settings) => s as Record<string, unknown>;
    return [
      measure('covrlLoss', (s) => covrlLoss(covrl, opts(s)).loss.dispose()),
      measure('verifreeLoss', (s) => verifreeLoss(verifree, opts(s)).loss.dispose()),
      measure('rlprLoss', (s) => rlprLoss(policy, opts(s)).loss.dispose()),
      measure('grpoLoss', (s) =>
        grpoLoss(policy, { klCoef: 0.01, ...opts(s) } as Parameters<
          typeof grpoLoss
        >[1]).loss.dispose(),
      ),
      measure('answerLikelihoodReward', (s) =>
        answerLikelihoodReward({
          answerLogProbs: covrl.answerLogProbs,
          answerMask: covrl.answerMask,
          form: 'log-prob-sum',
          ...(s.validate === false ? { validate: false } : {}),
        } as Parameters<typeof answerLikelihoodReward>[0]).dispose(),
      ),
      measure('compositeKl', (s) =>
        compositeKl({
          priorLogProbs: covrl.priorLogProbs,
          posteriorLogProbs: covrl.posteriorLogProbs,
          sampledFromPrior: covrl.sampledFromPrior,
          ...(s.validate === false ? { validate: false } : {}),
        } as Parameters<typeof compositeKl>[0]).dispose(),
      ),
      measure('groupAdvantages', (s) =>
        groupAdvantages({
          rewards: covrl.rewards!,
          groupSize: 4,
          ...(s.validate === false ? { validate: false } : {}),
        } as Parameters<typeof groupAdvantages>[0]).dispose(),
      ),
    ];
  } finally {
    disposeBatch(covrl);
    disposeBatch(verifree);
    disposeBatch(policy);
  }
}
