/**
 * Plain-number rollout statistics for the metrics of methods.md §4 (`rollout/*`, `length/*`,
 * `leak/posterior_answer_in_trace`).
 *
 * @packageDocumentation
 */
import type { TraceRollout } from './hybrid.js';
import { endsWithIds } from './ids.js';
import type { Tokenizer } from './policy.js';

/** Result of {@link rolloutStats}. */
export interface RolloutStats {
  /** `rollout/prior_fraction`: share of rows sampled from PRIOR-SAMPLE. */
  readonly priorFraction: number;
  /** `rollout/truncated_fraction`: share of rows that hit the token budget. */
  readonly truncatedFraction: number;
  /** `rollout/malformed_fraction`: share of rows that are not well formed (truncated included). */
  readonly malformedFraction: number;
  /** `length/trace_mean`: mean number of trace ids (closing tag included). */
  readonly traceMean: number;
  /** `length/trace_prior_mean`: over prior rows; 0 when there are none. */
  readonly tracePriorMean: number;
  /** `length/trace_posterior_mean`: over posterior rows; 0 when there are none. */
  readonly tracePosteriorMean: number;
  /** `length/trace_max`. */
  readonly traceMax: number;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * Rollout statistics of a trace batch. Lengths count every generated id (methods.md §1 rule 2).
 * Means over an empty subset are reported as 0 (so logs stay finite JSON).
 *
 * @throws Error naming `rolloutStats` when `rollouts` is empty.
 */
export function rolloutStats(
  rollouts: readonly Pick<TraceRollout, 'source' | 'traceIds' | 'truncated' | 'wellFormed'>[],
): RolloutStats {
  if (!Array.isArray(rollouts) || rollouts.length === 0) {
    throw new Error('rolloutStats: rollouts must be a non-empty array');
  }
  const n = rollouts.length;
  const lengths = rollouts.map((r) => r.traceIds.length);
  return {
    priorFraction: rollouts.filter((r) => r.source === 'prior').length / n,
    truncatedFraction: rollouts.filter((r) => r.truncated).length / n,
    malformedFraction: rollouts.filter((r) => !r.wellFormed).length / n,
    traceMean: mean(lengths),
    tracePriorMean: mean(
      rollouts.filter((r) => r.source === 'prior').map((r) => r.traceIds.length),
    ),
    tracePosteriorMean: mean(
      rollouts.filter((r) => r.source === 'posterior').map((r) => r.traceIds.length),
    ),
    traceMax: Math.max(...lengths),
  };
}

/**
 * `leak/posterior_answer_in_trace` (methods.md §4) [OURS]: among posterior-sampled rows whose
 * reference answer has at least `minChars` characters, the fraction whose decoded trace body
 * (ids before a final `thinkClose`, when `thinkClose` ids are given) contains the answer verbatim.
 * Short answers are skipped because a 1–2 character answer appears in traces by chance.
 *
 * @param answers - reference answer per example (`answers[rollout.exampleIndex]`).
 * @returns a fraction in `[0, 1]`; 0 when no row qualifies.
 */
export function posteriorAnswerLeak(args: {
  readonly rollouts: readonly Pick<TraceRollout, 'exampleIndex' | 'source' | 'traceIds'>[];
  readonly answers: readonly string[];
  readonly tokenizer: Tokenizer;
  readonly minChars?: number;
  /** `enc(thinkClose)`; when given, a trailing closing tag is not searched. */
  readonly thinkClose?: readonly number[];
}): number {
  const fn = 'posteriorAnswerLeak';
  const minChars = args.minChars ?? 3;
  if (!Number.isInteger(minChars) || minChars < 1) {
    throw new Error(`${fn}: minChars must be a positive integer`);
  }
  let counted = 0;
  let leaked = 0;
  args.rollouts.forEach((r, b) => {
    if (r.source !== 'posterior') return;
    const answer = args.answers[r.exampleIndex];
    if (answer === undefined) {
      throw new Error(
        `${fn}: answers has no entry for rollouts[${b}].exampleIndex ${r.exampleIndex}`,
      );
    }
    if (answer.length < minChars) return;
    const close = args.thinkClose;
    const body =
      close !== undefined && endsWithIds(r.traceIds, close)
        ? r.traceIds.slice(0, r.traceIds.length - close.length)
        : r.traceIds;
    counted++;
    if (args.tokenizer.decode(body).includes(answer)) leaked++;
  });
  return counted === 0 ? 0 : leaked / counted;
}
