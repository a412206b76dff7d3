/**
 * Batched teacher-forced scoring of sampled traces in PRIOR-SCORE and POSTERIOR (methods.md §3.1,
 * §4): one stacked `[2B, L]` forward per call, trace-aligned outputs.
 *
 * @packageDocumentation
 */
import type { ExampleContexts } from './contexts.js';
import type { Policy, ScoredSpan, ScoreRequest, TokenSpan } from './policy.js';
import type { TraceRollout } from './hybrid.js';
import { scoreBlocks } from './score-blocks.js';

/** Which tokens of PRIOR-SCORE make up the answer span (methods.md §1 rule 2, §5). */
export type AnswerSpan = 'answer' | 'answer+close';

/** Arguments of {@link buildTraceScoreRequest} and {@link scoreTraces}. */
export interface ScoreTracesArgs {
  /** B sampled traces (their `exampleIndex` points into `contexts`). */
  readonly rollouts: readonly Pick<TraceRollout, 'exampleIndex' | 'traceIds'>[];
  readonly contexts: readonly ExampleContexts[];
  /** Also score the traces in POSTERIOR (stacked after the B prior rows). */
  readonly includePosterior: boolean;
  /** `'answer'`: `enc(y)` only (CoVRL, RLPR); `'answer+close'`: `enc(y) ‖ enc('</answer>')` (VeriFree). */
  readonly answerSpan: AnswerSpan;
  /** Scoring temperature; must equal the sampling temperature (methods.md §3.1). Default 1. */
  readonly temperature?: number;
}

/** Output of {@link scoreTraces}; every tensor is `float32`. */
export interface TraceScores {
  /** `[B, T]`: `ℓφ_t = log p(z_t | x, z_<t)` in PRIOR-SCORE, and its mask. */
  readonly priorTrace: ScoredSpan;
  /** `[B, T]`: `ℓψ_t = log q(z_t | x, y, z_<t)` in POSTERIOR, same token as `priorTrace[b, t]`. */
  readonly posteriorTrace?: ScoredSpan;
  /** `[B, A]`: answer-span log-probs in PRIOR-SCORE (reward, NLL). */
  readonly answer: ScoredSpan;
}

/** Validates rollouts against contexts; returns the per-row context. */
export function contextsOfRollouts(
  fn: string,
  rollouts: readonly Pick<TraceRollout, 'exampleIndex'>[],
  contexts: readonly ExampleContexts[],
): ExampleContexts[] {
  if (!Array.isArray(rollouts) || rollouts.length === 0) {
    throw new Error(`${fn}: rollouts must be a non-empty array`);
  }
  if (!Array.isArray(contexts) || contexts.length === 0) {
    throw new Error(`${fn}: contexts must be a non-empty array of ExampleContexts`);
  }
  return rollouts.map((r, b) => {
    const ctx = contexts[r.exampleIndex];
    if (!Number.isInteger(r.exampleIndex) || ctx === undefined) {
      throw new Error(
        `${fn}: rollouts[${b}].exampleIndex ${String(r.exampleIndex)} is not an index into contexts (length ${contexts.length})`,
      );
    }
    return ctx;
  });
}

/**
 * Builds the stacked scoring request of methods.md §3.1 from ids only (pure):
 *
 * - rows `0..B−1`, PRIOR-SCORE: `priorPrefix ‖ z ‖ answerOpen ‖ answer ‖ answerClose`;
 *   span `trace` = `[P, P + |z|)`, span `answer` = `[P + |z| + |answerOpen|, … + |answer|)`
 *   (+ `|answerClose|` with `'answer+close'`);
 * - rows `B..2B−1` (when `includePosterior`), POSTERIOR: `posteriorPrefix ‖ z`; span `trace` =
 *   `[Q, Q + |z|)`, span `answer` of length 0 (at start 1).
 *
 * `z` are the sampled ids, copied verbatim (never decoded and re-encoded, methods.md §2).
 */
export function buildTraceScoreRequest(args: ScoreTracesArgs): ScoreRequest<'trace' | 'answer'> {
  const fn = 'buildTraceScoreRequest';
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  if (args.answerSpan !== 'answer' && args.answerSpan !== 'answer+close') {
    throw new Error(`${fn}: answerSpan must be 'answer' or 'answer+close'`);
  }
  if (
    args.temperature !== undefined &&
    !(args.temperature > 0 && Number.isFinite(args.temperature))
  ) {
    throw new Error(`${fn}: temperature must be a finite number > 0`);
  }
  const withClose = args.answerSpan === 'answer+close';
  const sequences: number[][] = [];
  const trace: TokenSpan[] = [];
  const answer: TokenSpan[] = [];
  args.rollouts.forEach((rollout, b) => {
    const ctx = perRow[b] as ExampleContexts;
    const z = rollout.traceIds;
    sequences.push([
      ...ctx.priorPrefix,
      ...z,
      ...ctx.answerOpen,
      ...ctx.answer,
      ...ctx.answerClose,
    ]);
    trace.push({ start: ctx.priorPrefix.length, length: z.length });
    answer.push({
      start: ctx.priorPrefix.length + z.length + ctx.answerOpen.length,
      length: ctx.answer.length + (withClose ? ctx.answerClose.length : 0),
    });
  });
  if (args.includePosterior) {
    args.rollouts.forEach((rollout, b) => {
      const ctx = perRow[b] as ExampleContexts;
      sequences.push([...ctx.posteriorPrefix, ...rollout.traceIds]);
      trace.push({ start: ctx.posteriorPrefix.length, length: rollout.traceIds.length });
      answer.push({ start: 1, length: 0 });
    });
  }
  return {
    sequences,
    spans: { trace, answer },
    ...(args.temperature === undefined ? {} : { temperature: args.temperature }),
  };
}

/**
 * Scores B traces in PRIOR-SCORE (and POSTERIOR) with ONE `policy.scoreTokens` call of `B` (or
 * `2B`) rows, then slices the result into trace-aligned tensors (methods.md §3.1): for every `b`
 * and `t < |z_b|`, `priorTrace.logProbs[b, t] = log p(z_{b,t} | priorPrefix, z_{b,<t})` and
 * `posteriorTrace.logProbs[b, t] = log q(z_{b,t} | posteriorPrefix, z_{b,<t})`, the same token in
 * two contexts, as `compositeKl` requires; masks are 1 for `t < |z_b|`, 0 at padding (log-probs 0
 * there). `answer` holds `log p(y_k | x, z, y_<k)` over the answer span. Shapes: `[B, T]` with
 * `T = max_b |z_b|`, `[B, A]` with `A` the longest answer span.
 *
 * Differentiable (call it inside `tf.variableGrads` for the "new" log-probs, outside for "old"
 * ones); leaks nothing but the returned tensors. Dispose them when done.
 */
export function scoreTraces(policy: Policy, args: ScoreTracesArgs): TraceScores {
  const request = buildTraceScoreRequest(args);
  const B = args.rollouts.length;
  const blocks = [
    { key: 'trace', rowStart: 0, rows: B },
    { key: 'answer', rowStart: 0, rows: B },
    ...(args.includePosterior ? [{ key: 'trace', rowStart: B, rows: B } as const] : []),
  ] as const;
  const [priorTrace, answer, posteriorTrace] = scoreBlocks('scoreTraces', policy, request, blocks);
  return {
    priorTrace: priorTrace as ScoredSpan,
    answer: answer as ScoredSpan,
    ...(posteriorTrace === undefined ? {} : { posteriorTrace }),
  };
}
