/**
 * The pipeline's sampling phase with RLPR's std filter as an option (methods.md §6; RLPR
 * reference code): sample a round, keep the groups whose reward std clears β·EMA, sample further
 * rounds of fresh questions until the step has as many groups as questions or the round cap is
 * reached; then advance the filter's EMA once over every candidate group of the step. Without
 * the filter: one round, every group kept.
 */
import { stdFilterInit, stdFilterKeep, stdFilterStep } from '@covrl/grpo';
import type { StdFilterState } from '@covrl/grpo';
import type { GenerationRounds, RowFlags, SampledBatch, SampleRound } from './method-spec.js';
import type { StepInput } from './common.js';
import { mean, pick } from './step-metrics.js';

/** The sample standard deviation (n − 1) of each group's rewards. */
export function groupStds(rewards: readonly number[], groupSize: number): number[] {
  const stds: number[] = [];
  for (let g = 0; g < rewards.length; g += groupSize) {
    const grp = rewards.slice(g, g + groupSize);
    const m = mean(grp);
    stds.push(Math.sqrt(grp.reduce((a, x) => a + (x - m) * (x - m), 0) / (groupSize - 1)));
  }
  return stds;
}

/** Rows of `batch` in the groups `groups`, with their sampling-time terms. */
function keepGroups<R extends RowFlags>(
  batch: SampledBatch<R>,
  groups: readonly number[],
  G: number,
): SampledBatch<R> {
  const rows = groups.flatMap((g) => Array.from({ length: G }, (_, j) => g * G + j));
  return {
    ...batch,
    rollouts: pick(batch.rollouts, rows),
    terms: Object.fromEntries(Object.entries(batch.terms).map(([k, v]) => [k, pick(v, rows)])),
  };
}

/** Kept batches merged into one (example indices shifted into the joined contexts). */
function concatBatches<R extends RowFlags>(batches: readonly SampledBatch<R>[]): SampledBatch<R> {
  let offset = 0;
  const rollouts: R[] = [];
  for (const b of batches) {
    for (const r of b.rollouts) rollouts.push({ ...r, exampleIndex: r.exampleIndex + offset });
    offset += b.contexts.length;
  }
  const terms: Record<string, number[]> = {};
  for (const b of batches)
    for (const [k, v] of Object.entries(b.terms)) (terms[k] ??= []).push(...v);
  return {
    examples: batches.flatMap((b) => b.examples),
    contexts: batches.flatMap((b) => b.contexts),
    rollouts,
    terms,
  };
}

/**
 * Sample the step's batches through the filter. `sampleRound` samples one round and must return
 * the per-row `reward` term. `filter` is the run's filter state (null before its first step);
 * the new state is returned.
 */
export async function sampleWithStdFilter<R extends RowFlags>(
  input: StepInput,
  options: GenerationRounds,
  filter: StdFilterState | null,
  sampleRound: (round: SampleRound) => Promise<SampledBatch<R>>,
): Promise<{
  batches: SampledBatch<R>[];
  metrics: Record<string, number>;
  filter: StdFilterState | null;
}> {
  const G = input.config.train.groupSize;
  const Q = input.contexts.length;
  const { beta, decay, emaStartStep, filterStartStep } = options;
  const current = filter ?? stdFilterInit({ beta, decay, emaStartStep, filterStartStep });
  const kept: SampledBatch<R>[] = [];
  const allStds: number[] = [];
  let keptGroups = 0;
  let rounds = 0;
  while (rounds < (options.enabled ? options.maxRounds : 1) && keptGroups < Q) {
    const questions =
      rounds === 0
        ? { examples: input.examples, contexts: input.contexts }
        : input.extraBatch(rounds);
    const batch = await sampleRound({ ...questions, seed: input.seed + rounds * 7919 });
    rounds++;
    const stds = groupStds(batch.terms['reward'] ?? [], G);
    allStds.push(...stds);
    // Decide per round without advancing the filter; it advances once per step below.
    const keep = options.enabled
      ? stdFilterKeep(current, { step: input.step, groupStds: stds }).keep
      : stds.map(() => true);
    const groups = keep.flatMap((k, g) => (k ? [g] : [])).slice(0, Q - keptGroups);
    if (groups.length === 0) continue;
    kept.push(keepGroups(batch, groups, G));
    keptGroups += groups.length;
    if (!options.enabled) break;
  }
  let next = filter;
  let emaStd = 0;
  if (options.enabled) {
    // EMA update over every candidate group generated this step (filter first, then update).
    const res = stdFilterStep(current, { step: input.step, groupStds: allStds });
    next = res.state;
    emaStd = res.emaStd ?? 0;
  }
  return {
    batches: options.update === 'accumulated' && kept.length > 1 ? [concatBatches(kept)] : kept,
    metrics: {
      'filter/kept_fraction': keptGroups / Math.max(1, allStds.length),
      'filter/ema_std': emaStd,
      'filter/generation_rounds': rounds,
    },
    filter: next,
  };
}
