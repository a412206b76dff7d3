/**
 * The one training step every method runs (issue 11; verl's single trainer loop over registered
 * parts). The order lives here and nowhere else:
 *
 *   1. sample        spec.sample → one batch (or RLPR's kept generation rounds)
 *   2. old scores    spec.scoreOld → detached log-probs per mini-batch, and per-row terms
 *   3. reward        spec.reward → raw reward and validity per row
 *   4. invalid rows  applyInvalidRowRule (when the spec asks for it)
 *   5. advantages    groupAdvantages with the spec's method
 *   6. updates       one clipped AdamW update per mini-batch of whole groups (spec.loss)
 *   7. metrics       standard step metrics + the spec's own, per-phase timing
 *   8. sample rows   the logged completions with every reward term
 *
 * A method is a {@link MethodSpec} (`../methods/`); {@link defineMethod} turns it into the
 * registry entry whose runner the trainer calls once per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { groupAdvantages } from '@covrl/grpo';
import type { StdFilterState } from '@covrl/grpo';
import { applyInvalidRowRule } from '@covrl/rewards';
import type {
  BatchRecord,
  MethodSpec,
  OldPass,
  RegisteredMethod,
  RowFlags,
  RowRewards,
  SampledBatch,
  SampleRound,
  TermsOf,
} from './method-spec.js';
import type { MethodRunner, StepInput, StepOutput } from './common.js';
import { applyUpdate, mergeMetrics, miniBatchRows } from './update.js';
import { PhaseClock, pick, standardStepMetrics } from './step-metrics.js';
import { sampleWithStdFilter } from './generation-rounds.js';

/** Register a method: its spec behind a type-erased entry whose runner the trainer drives. */
export function defineMethod<R extends RowFlags, S>(spec: MethodSpec<R, S>): RegisteredMethod {
  return {
    name: spec.name,
    summary: spec.summary,
    preset: spec.preset,
    rewardUnit: (config) => spec.rewardUnit(config),
    runner: () => createRunner(spec),
  };
}

/** A runner for one run: the spec plus its per-run state. */
function createRunner<R extends RowFlags, S>(spec: MethodSpec<R, S>): MethodRunner {
  const run: RunState<S> = { spec: spec.initialState(), filter: null };
  const filtered = spec.generationRounds !== undefined;
  return {
    name: spec.name,
    attach: (input) => spec.attach?.(input, run.spec) ?? [],
    init: (input) => spec.init?.(input, run.spec),
    step: (input) => runStep(spec, input, run),
    // A checkpoint holds the spec's own state plus, with generation rounds, the filter's.
    getState: () => {
      const own = spec.persistState?.(run.spec) ?? null;
      return filtered ? { ...(own as object), filter: run.filter } : own;
    },
    setState: (saved) => {
      run.spec = spec.restoreState?.(saved, run.spec) ?? run.spec;
      if (filtered) run.filter = (saved as { filter: StdFilterState | null }).filter;
    },
  };
}

/** The state of one run: the spec's own, and the std filter's when the spec has rounds. */
interface RunState<S> {
  spec: S;
  filter: StdFilterState | null;
}

/** Phase 1: one round, or RLPR's generation rounds through the std filter. */
async function sampleStep<R extends RowFlags, S>(
  spec: MethodSpec<R, S>,
  input: StepInput,
  run: RunState<S>,
): Promise<{ batches: SampledBatch<R>[]; metrics?: Record<string, number> }> {
  const sampleRound = (round: SampleRound) => spec.sample(input, round, run.spec);
  if (spec.generationRounds === undefined) {
    const { examples, contexts, seed } = input;
    return { batches: [await sampleRound({ examples, contexts, seed })] };
  }
  const out = await sampleWithStdFilter(
    input,
    spec.generationRounds(input.config),
    run.filter,
    sampleRound,
  );
  run.filter = out.filter;
  return out;
}

/** One training step of `spec` (see the module comment for the order). */
async function runStep<R extends RowFlags, S>(
  spec: MethodSpec<R, S>,
  input: StepInput,
  run: RunState<S>,
): Promise<StepOutput> {
  const clock = new PhaseClock();
  const sampled = await clock.timeAsync('sample', () => sampleStep(spec, input, run));
  const records: BatchRecord<R>[] = [];
  const updates: Record<string, number>[] = [];
  for (const batch of sampled.batches) {
    records.push(trainOnBatch(spec, input, batch, run.spec, updates, clock));
  }
  const G = input.config.train.groupSize;
  const all = (f: (r: BatchRecord<R>) => readonly number[]): number[] => records.flatMap(f);
  const metrics: Record<string, number> = {
    ...mergeMetrics(updates),
    ...standardStepMetrics(
      {
        rewards: all((r) => r.rewards),
        advantages: all((r) => r.advantages),
        valid: all((r) => r.valid),
      },
      G,
    ),
    ...sampled.metrics,
    ...spec.metrics(input, records, run.spec),
  };
  const first = records[0];
  const samples =
    first === undefined
      ? []
      : (spec.sampleRowsOf?.(input, first) ?? defaultLoggedRows(input, first)).map((row) =>
          spec.sampleRow(input, first, row),
        );
  return { metrics, samples, timing: timingOf(spec, records, updates.length, clock) };
}

/** Phases 2–6 on one sampled batch; pushes each update's metrics onto `updates`. */
function trainOnBatch<R extends RowFlags, S>(
  spec: MethodSpec<R, S>,
  input: StepInput,
  batch: SampledBatch<R>,
  state: S,
  updates: Record<string, number>[],
  clock: PhaseClock,
): BatchRecord<R> {
  const { config } = input;
  const G = config.train.groupSize;
  const parts = spec.onPolicy?.(config) === true ? 1 : config.train.miniBatches;
  const chunks = miniBatchRows(batch.rollouts.length, G, parts);
  let olds: OldPass[] = [];
  try {
    olds = clock.time('old_score', () => spec.scoreOld(input, batch, chunks, state));
    const terms = mergeTerms(batch.terms, chunks, olds);
    const rowRewards = spec.reward(input, batch, terms);
    const { rewards, advantages } = clock.time('reward', () =>
      rewardsAndAdvantages(rowRewards, G, spec.advantageMethod(config)),
    );
    chunks.forEach((rows, index) => {
      const old = olds[index] as OldPass;
      const rl = { rewards: pick(rewards, rows), advantages: pick(advantages, rows), index };
      updates.push(
        clock.time('update', () =>
          applyUpdate(input, () => spec.loss(input, batch, rows, old, rl)),
        ),
      );
      tf.dispose(Object.values(old.tensors));
    });
    return { batch, terms, raw: rowRewards.raw, valid: rowRewards.valid, rewards, advantages };
  } finally {
    // Also when an update stops on a non-finite value: compare goes on in this process.
    // Disposing a disposed tensor is a no-op, so this frees only what the loop did not reach.
    for (const o of olds) tf.dispose(Object.values(o.tensors));
  }
}

/** Sampling-time terms plus each old pass's per-row terms, placed at their rows. */
function mergeTerms(
  sampled: TermsOf,
  chunks: readonly number[][],
  olds: readonly OldPass[],
): Record<string, number[]> {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(sampled)) out[k] = [...v];
  olds.forEach((old, k) => {
    const rows = chunks[k] as number[];
    for (const [name, values] of Object.entries(old.terms)) {
      const target = (out[name] ??= new Array<number>(n).fill(0));
      rows.forEach((r, i) => {
        target[r] = values[i] as number;
      });
    }
  });
  return out;
}

/** Phases 4–5: the invalid-row rule (when asked for), then group advantages, as numbers. */
function rewardsAndAdvantages(
  r: RowRewards,
  groupSize: number,
  method: ReturnType<MethodSpec<RowFlags, unknown>['advantageMethod']>,
): { rewards: number[]; advantages: number[] } {
  return tf.tidy(() => {
    const raw = tf.tensor1d(r.raw as number[]);
    const R =
      r.invalidRule === undefined
        ? raw
        : applyInvalidRowRule({
            rewards: raw,
            valid: tf.tensor1d(r.valid as number[]),
            groupSize,
            form: r.invalidRule.form,
            margin: r.invalidRule.margin,
          });
    const A = groupAdvantages({ rewards: R, groupSize, method });
    // Without the rule the method's own numbers stay as they are (no float32 round trip).
    const rewards = r.invalidRule === undefined ? [...r.raw] : Array.from(R.dataSync());
    return { rewards, advantages: Array.from(A.dataSync()) };
  }) as unknown as { rewards: number[]; advantages: number[] };
}

/** The first `train.logSamples` rows of the first batch. */
function defaultLoggedRows(input: StepInput, record: BatchRecord<RowFlags>): number[] {
  const n = Math.min(input.config.train.logSamples, record.batch.rollouts.length);
  return Array.from({ length: n }, (_, i) => i);
}

/** Per-phase seconds, compute counts and throughput of one step. */
function timingOf<R extends RowFlags, S>(
  spec: MethodSpec<R, S>,
  records: readonly BatchRecord<R>[],
  updates: number,
  clock: PhaseClock,
): Record<string, number> {
  const sampledTokens = records.reduce(
    (a, r) => a + r.batch.rollouts.reduce((b, x) => b + spec.sampledTokens(x), 0),
    0,
  );
  const rows = records.reduce((a, r) => a + r.batch.rollouts.length, 0);
  const perSecond = (n: number, s: number): number => (s > 0 ? n / s : 0);
  return {
    ...clock.metrics(),
    'compute/sampled_tokens': sampledTokens,
    'compute/rows': rows,
    'compute/updates': updates,
    'throughput/sampled_tokens_per_s': perSecond(sampledTokens, clock.of('sample')),
    'throughput/trained_tokens_per_s': perSecond(sampledTokens, clock.of('update')),
  };
}
