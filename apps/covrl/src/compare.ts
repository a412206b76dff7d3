/**
 * `covrl compare`: one base model (pretrained, reused, or the embedded default), then base, grpo,
 * verifree, rlpr and covrl trained from it over several seeds under the same budget, each
 * evaluated on the in-domain, transfer and hard splits, and a report written from the results.
 * Optional sweeps run CoVRL's α ∈ {0.1, 0.9} and λ_KL = 0.1 beside its defaults (α 0.5, λ_KL 1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import type { Config, Method } from './config/schema.js';
import { decodeConfig } from './config/decode.js';
import type { ConfigSources } from './config/decode.js';
import { baseFingerprint, loadBase } from './model-io.js';
import type { BaseMeta } from './model-io.js';
import { pretrain } from './pretrain.js';
import { buildTask } from './task.js';
import { evaluateSplits, train } from './train/trainer.js';
import { readLog } from './run/log.js';
import type { Results, RunResult } from './report/results.js';
import { writeReport } from './report/build.js';

export const COMPARE_METHODS: readonly Method[] = ['grpo', 'verifree', 'rlpr', 'covrl'];

/** The embedded base models shipped with the app (see README, "The embedded base model"). */
export const EMBEDDED_BASES = ['base-quick'] as const;

/** Directory of an embedded base model. Both budget presets share `base-quick`. */
export function embeddedBaseDir(name: string = 'base-quick'): string {
  return fileURLToPath(new URL(`../assets/${name}`, import.meta.url));
}

export interface CompareOptions {
  /** Config sources shared by every run; `method` is set per run. */
  readonly sources: Omit<ConfigSources, 'method'>;
  readonly seeds: readonly number[];
  readonly out: string;
  /** Use this base model directory instead of finding or pretraining one. */
  readonly base?: string;
  readonly methods?: readonly Method[];
  /** Also run CoVRL with α ∈ {0.1, 0.9}. */
  readonly sweepAlpha?: boolean;
  /** Also run CoVRL with λ_KL = 0.1. */
  readonly sweepKl?: boolean;
  readonly command: string;
  readonly backend: string;
  readonly version: string;
  readonly log?: (line: string) => void;
}

function decode(sources: ConfigSources): Config {
  const r = decodeConfig(sources);
  if (E.isLeft(r)) throw new Error(r.left.join('\n'));
  return r.right;
}

function readMeta(dir: string): BaseMeta | undefined {
  const p = join(dir, 'covrl-base.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as BaseMeta) : undefined;
}

/** Per-step curves of a run, read back from its metrics log (so resumed runs are complete). */
export function curvesOf(runDir: string): Record<string, number[]> {
  const curves: Record<string, number[]> = { step: [] };
  const records = readLog(join(runDir, 'metrics.jsonl')).filter((r) => r.type === 'step');
  records.forEach((r, i) => {
    if (r.type !== 'step') return;
    curves['step']?.push(r.step);
    for (const [k, v] of Object.entries(r.metrics)) {
      const arr = (curves[k] ??= []);
      while (arr.length < i) arr.push(Number.NaN);
      arr.push(typeof v === 'number' ? v : Number.NaN);
    }
  });
  return curves;
}

/** Run the comparison and write `results.json`, `report.md` and `report.html` into `out`. */
export async function compare(options: CompareOptions): Promise<Results> {
  const log = options.log ?? ((line: string) => console.error(line));
  const preset = options.sources.preset ?? 'standard';
  const baseConfig = decode({ ...options.sources, method: 'covrl' });
  const fingerprint = baseFingerprint(baseConfig);

  // 1. The base model: given, embedded, reused from an earlier compare, or pretrained now.
  let baseDir = options.base;
  if (baseDir === undefined) {
    for (const candidate of [
      ...EMBEDDED_BASES.map((b) => embeddedBaseDir(b)),
      join(options.out, 'base'),
    ]) {
      if (readMeta(candidate)?.fingerprint === fingerprint) {
        baseDir = candidate;
        log(`base model: reusing ${candidate}`);
        break;
      }
    }
  }
  if (baseDir === undefined) {
    baseDir = join(options.out, 'base');
    log(`base model: pretraining into ${baseDir} (no base with this config found)`);
    await pretrain({ config: baseConfig, out: baseDir, command: options.command });
  }

  const task = buildTask(baseConfig);
  log(
    `task: ${task.train.length} training questions; ` +
      Object.entries(task.splits)
        .map(([k, v]) => `${k} ${v.length}`)
        .join(', ') +
      ` (${task.removedOverlap} evaluation draws dropped: also in the training pool)`,
  );
  const runs: RunResult[] = [];

  // 2. The base model itself, evaluated once per seed (sampling seeds differ).
  for (const seed of options.seeds) {
    const { model, tokenizer } = await loadBase(baseDir, seed);
    const splits = await evaluateSplits(
      { ...baseConfig, seed } as Config,
      model,
      tokenizer,
      task,
      seed,
    );
    model.dispose();
    runs.push({ label: 'base', method: 'base', seed, variant: {}, splits, curves: {} });
  }

  // 3. Every method and variant over every seed, from the same base.
  const variants: { label: string; method: Method; flags: Record<string, string> }[] = (
    options.methods ?? COMPARE_METHODS
  ).map((m) => ({ label: m, method: m, flags: {} }));
  if (options.sweepAlpha === true) {
    for (const a of ['0.1', '0.9']) {
      variants.push({ label: `covrl α=${a}`, method: 'covrl', flags: { 'covrl.alpha': a } });
    }
  }
  if (options.sweepKl === true) {
    variants.push({ label: 'covrl λ_KL=0.1', method: 'covrl', flags: { 'covrl.klCoef': '0.1' } });
  }
  for (const v of variants) {
    for (const seed of options.seeds) {
      const config = decode({
        ...options.sources,
        method: v.method,
        flags: { ...options.sources.flags, ...v.flags, seed: String(seed) },
      });
      // e.g. `covrl-seed1`, `covrl-alpha0.1-seed1`, `covrl-klCoef0.1-seed1`.
      const suffix = Object.entries(v.flags)
        .map(([k, val]) => `-${k.split('.').pop() ?? k}${val}`)
        .join('');
      const name = `${v.method}${suffix}-seed${seed}`;
      const runDir = join(options.out, 'runs', name);
      log(`train: ${v.label}, seed ${seed} → ${runDir}`);
      const outcome = await train({
        config,
        baseDir,
        runDir,
        command: options.command,
        task,
        quiet: false,
      });
      outcome.model.dispose();
      const variant: Record<string, number | string | boolean> = {};
      for (const [k, raw] of Object.entries(v.flags)) variant[k] = Number(raw);
      runs.push({
        label: v.label,
        method: v.method,
        seed,
        variant,
        splits: outcome.splits,
        curves: curvesOf(runDir),
        runDir,
        seconds: outcome.seconds,
      });
      const acc = outcome.splits['in-domain'];
      if (acc !== undefined) {
        log(
          `  ${v.label} seed ${seed}: in-domain greedy ${((100 * acc.greedy.correct) / Math.max(1, acc.greedy.total)).toFixed(1)}% (${outcome.seconds.toFixed(0)} s)`,
        );
      }
    }
  }

  const results: Results = {
    command: options.command,
    createdAt: new Date().toISOString(),
    covrlVersion: options.version,
    backend: options.backend,
    config: {
      preset,
      seeds: options.seeds,
      baseDir,
      base: readMeta(baseDir) ?? null,
      resolved: baseConfig,
    },
    splits: Object.keys(task.splits),
    runs,
  };
  await writeReport(options.out, results);
  return results;
}
