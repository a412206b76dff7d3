/**
 * What `--resume` may change. A checkpoint continues a run exactly only when the new config would
 * have produced the same checkpoint: every key that shapes training (model, data, method
 * hyperparameters, batch, learning rate, seed) must match. Keys that only say how often to
 * evaluate, checkpoint or log, how to evaluate, or where the run lives may differ; so may
 * `train.steps`, to extend or shorten a run, when the learning rates of the steps already done are
 * the same under the new total (always with a constant schedule past its warm-up; a cosine
 * schedule depends on the total, so it refuses). The base model must be the one the run started
 * from ({@link checkResumeBase}).
 */
import { existsSync } from 'node:fs';
import { lrAt } from '@covrl/models';
import type { Config } from '../config/schema.js';
import { baseIdentityDecoder, describeBase, sameBase } from '../run/base-identity.js';
import type { BaseIdentity } from '../run/base-identity.js';

/** One key whose value differs between two configs. */
export interface ConfigChange {
  /** Dotted key, e.g. `train.lr`. */
  readonly key: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Keys (or key prefixes ending in `.`) that may differ on resume without changing training. */
export const RESUMABLE_KEYS: readonly string[] = [
  'runName',
  'runDir',
  'train.evalEvery',
  'train.checkpointEvery',
  'train.logSamples',
  'train.collapsePatience',
  'eval.',
];

const isTree = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isTree(value)) {
    for (const [k, v] of Object.entries(value))
      flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, value);
  }
}

/** Every leaf key whose value differs between `before` and `after` (added or removed keys too). */
export function configChanges(before: unknown, after: unknown): ConfigChange[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before, '', a);
  flatten(after, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)))
    .map((key) => ({ key, before: a.get(key), after: b.get(key) }));
}

/** The learning rate of optimizer step `step` (1-based) under `config`, as the trainer uses it. */
export function lrOfStep(config: Config, step: number): number {
  const total = config.train.steps;
  return lrAt(step - 1, {
    schedule: config.train.lrSchedule,
    peak: config.train.lr,
    warmupSteps: Math.round(config.train.warmupFraction * total),
    totalSteps: total,
  });
}

/** How to set a key back on the command line. */
function flagFor(change: ConfigChange): string {
  const v = change.before;
  if (change.key === 'method') return `--method ${String(v)}`;
  const text = Array.isArray(v) ? v.join(',') : String(v);
  return `--set ${change.key}=${text}`;
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v));

/**
 * Check that a run saved with `saved` at step `step` may continue under `config`. Returns the
 * allowed changes (to log); throws naming every other changed key, with the checkpoint's value,
 * the new one, and the flags that restore the checkpoint's values.
 */
export function checkResumeConfig(
  saved: unknown,
  config: Config,
  step: number,
  where: string,
): ConfigChange[] {
  const changes = configChanges(saved, config);
  const allowed = (c: ConfigChange): boolean =>
    RESUMABLE_KEYS.some((k) => (k.endsWith('.') ? c.key.startsWith(k) : c.key === k));
  const refused = changes.filter((c) => !allowed(c) && c.key !== 'train.steps');
  const stepsChange = changes.find((c) => c.key === 'train.steps');
  const notes: string[] = [];
  if (stepsChange !== undefined) {
    const old = saved as Config;
    if (config.train.steps < step) {
      notes.push(
        `train.steps=${config.train.steps} is below the checkpoint's step ${step}; pass --set train.steps=${String(stepsChange.before)} or more`,
      );
    } else {
      // The steps already taken must have used the learning rates the new total gives them.
      for (let s = 1; s <= step; s++) {
        if (lrOfStep(old, s) !== lrOfStep(config, s)) {
          notes.push(
            `train.steps ${String(stepsChange.before)} → ${config.train.steps} changes the learning rate of step ${s} ` +
              `(${lrOfStep(old, s)} → ${lrOfStep(config, s)}; the ${config.train.lrSchedule} schedule depends on the total), so the checkpoint is not a prefix of the new run`,
          );
          break;
        }
      }
    }
  }
  const bad = notes.length > 0 && stepsChange !== undefined ? [...refused, stepsChange] : refused;
  bad.sort((x, y) => (x.key < y.key ? -1 : 1));
  if (bad.length > 0) {
    throw new Error(
      [
        `${where}: cannot resume: the checkpoint was written with a different config in keys that change training:`,
        ...bad.map((c) => `  ${c.key}: checkpoint ${show(c.before)}, now ${show(c.after)}`),
        ...notes.map((n) => `  (${n})`),
        `Pass the checkpoint's values (${bad.map(flagFor).join(' ')}) to continue it, or start a new run with another --out.`,
        `Only ${RESUMABLE_KEYS.map((k) => (k.endsWith('.') ? `${k}*` : k)).join(', ')} and (when the learning rates of the steps done stay the same) train.steps may change on resume.`,
      ].join('\n'),
    );
  }
  return changes;
}

const isBaseIdentity = (v: unknown): v is BaseIdentity => {
  try {
    baseIdentityDecoder(v, 'base');
    return true;
  } catch (_error) {
    return false;
  }
};

/**
 * Check that a checkpoint whose state recorded `saved` as its base may continue from `now`. The
 * base matters on resume even though the checkpoint holds the weights: a method may keep the
 * base itself (GRPO's frozen KL reference with `grpo.klCoef` > 0 is the model as loaded, before
 * the checkpoint is restored), and the finished run's export names it as `trainedFrom`. Throws
 * naming both bases and what to pass; returns a warning for a checkpoint that records no base
 * (written by an older covrl), which cannot be checked.
 */
export function checkResumeBase(
  saved: unknown,
  now: BaseIdentity,
  where: string,
): string | undefined {
  if (saved === undefined) {
    return `${where} records no base model (written by an older covrl); not checked against ${describeBase(now)}`;
  }
  if (!isBaseIdentity(saved)) {
    throw new Error(
      `${where}/state.json: field 'base' must be { dir: string, fingerprint: string | null }; the checkpoint is damaged`,
    );
  }
  if (sameBase(saved, now)) return undefined;
  const how =
    saved.dir !== now.dir
      ? existsSync(saved.dir)
        ? `Pass --base ${saved.dir} to continue it, or start a new run with another --out.`
        : `That directory no longer exists: put the base back at ${saved.dir} and pass --base ${saved.dir}, or start a new run with another --out.`
      : `The base at ${saved.dir} was replaced after the run started (its covrl-base.json fingerprint changed): put the original back, or start a new run with another --out.`;
  throw new Error(
    [
      `${where}: cannot resume: the checkpoint was trained from another base model:`,
      `  checkpoint: ${describeBase(saved)}`,
      `  now:        ${describeBase(now)}`,
      how,
    ].join('\n'),
  );
}
