/**
 * Hybrid prior/posterior trace sampling of CoVRL (methods.md §4, per-step algorithm steps 1–2):
 * each row draws its trace from one template, PRIOR-SAMPLE with probability α, POSTERIOR otherwise.
 *
 * @packageDocumentation
 */
import { stopSequencesOf } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { endsWithIds, sameIds } from './ids.js';
import type { FinishReason, Policy, Tokenizer } from './policy.js';
import { deriveSeed, mulberry32 } from './rng.js';
import { validateTags } from './templates.js';
import type { Tags } from './templates.js';

/** Arguments of {@link assignSources}. */
export interface AssignSourcesArgs {
  /** Number of groups Q (questions); ≥ 1. */
  readonly numGroups: number;
  /** Rollouts per question G; ≥ 1. */
  readonly groupSize: number;
  /** Probability α of the prior template, in `[0, 1]`. */
  readonly alpha: number;
  /** `'deterministic'`: first round-half-up(α·G) rows of each group; `'random'`: Bernoulli(α) per row. */
  readonly split: 'deterministic' | 'random';
  /** Seed of the `'random'` split (ignored by `'deterministic'`). */
  readonly seed: number;
}

/** Result of {@link assignSources}. */
export interface SourceAssignment {
  /** `[Q·G]`, group-contiguous: true where the row samples from PRIOR-SAMPLE. */
  readonly sampledFromPrior: boolean[];
  /**
   * The α of the behaviour mixture for the importance ratio (methods.md §4 step 6b):
   * `nPrior / G` under the deterministic split, `α` under the random split.
   */
  readonly alphaEff: number;
  /** Set when `0 < α < 1` yet every group is all-prior or all-posterior (deterministic split). */
  readonly warning?: string;
}

/**
 * Template assignment of methods.md §4 step 1 [OURS; the paper draws per trajectory with
 * probability α]. Deterministic: `nPrior = round-half-up(α·G) = ⌊α·G + 0.5⌋` (a 1e-9 slack makes
 * `α·G` values that floating point puts just below a half, like 0.7·5 → 3.4999…, round up as in
 * exact arithmetic); the first `nPrior` rows of each group are prior rows. Random: row `r` is a
 * prior row iff `u_r < α` with `u` from {@link mulberry32}(seed), a pure function of the seed.
 *
 * @returns `sampledFromPrior` `[numGroups·groupSize]` (group-contiguous), `alphaEff`, `warning?`.
 * @throws Error naming `assignSources` and the argument for non-integer sizes, α outside
 *   `[0, 1]`, an unknown split or a non-finite seed.
 */
export function assignSources(args: AssignSourcesArgs): SourceAssignment {
  const fn = 'assignSources';
  const { numGroups, groupSize, alpha, split, seed } = args;
  if (!Number.isInteger(numGroups) || numGroups < 1) {
    throw new Error(`${fn}: numGroups must be a positive integer, got ${String(numGroups)}`);
  }
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new Error(`${fn}: groupSize must be a positive integer, got ${String(groupSize)}`);
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new Error(`${fn}: alpha must be in [0, 1], got ${String(alpha)}`);
  }
  if (!Number.isFinite(seed)) {
    throw new Error(`${fn}: seed must be a finite number, got ${String(seed)}`);
  }
  const total = numGroups * groupSize;
  if (split === 'deterministic') {
    const nPrior = Math.min(groupSize, Math.floor(alpha * groupSize + 0.5 + 1e-9));
    const sampledFromPrior = Array.from({ length: total }, (_, r) => r % groupSize < nPrior);
    const alphaEff = nPrior / groupSize;
    if (alpha > 0 && alpha < 1 && (nPrior === 0 || nPrior === groupSize)) {
      return {
        sampledFromPrior,
        alphaEff,
        warning: `${fn}: alpha ${alpha} with groupSize ${groupSize} gives ${nPrior} prior rows per group (round half up), so every group is ${nPrior === 0 ? 'all-posterior' : 'all-prior'}; raise groupSize or use split 'random'`,
      };
    }
    return { sampledFromPrior, alphaEff };
  }
  if (split === 'random') {
    const next = mulberry32(seed);
    const sampledFromPrior = Array.from({ length: total }, () => next() < alpha);
    return { sampledFromPrior, alphaEff: alpha };
  }
  throw new Error(`${fn}: split must be 'deterministic' or 'random', got ${String(split)}`);
}

/** One sampled trace (methods.md §1 rules 2 and 4). */
export interface TraceRollout {
  /** Index into the `contexts` array the row belongs to (its group). */
  readonly exampleIndex: number;
  /** Row index in the rollout batch (`exampleIndex·G + k`). */
  readonly row: number;
  /** Template the trace was sampled from. */
  readonly source: 'prior' | 'posterior';
  /** Every generated id, INCLUDING the closing think-tag ids when generation stopped on them. */
  readonly traceIds: readonly number[];
  readonly finishReason: FinishReason;
  /** The budget ran out before any stop (`finishReason === 'length'`). */
  readonly truncated: boolean;
  /**
   * Stopped on `thinkClose`, non-empty body (ids before `thinkClose`), and the decoded body
   * contains none of `thinkOpen`, `thinkClose`, `answerOpen`, `answerClose`.
   */
  readonly wellFormed: boolean;
  /** `tokenizer.decode(traceIds)` (for logs and the leak metric). */
  readonly text: string;
  /** The seed the policy got for this row. */
  readonly seed: number;
  /** Sampler-side log-probs (present iff requested); not used as old log-probs (methods.md §3.1). */
  readonly samplerLogProbs?: readonly number[];
}

/** Arguments of {@link sampleTraces}. */
export interface SampleTracesArgs {
  /** One entry per question; row `r` belongs to `contexts[⌊r / groupSize⌋]`. */
  readonly contexts: readonly ExampleContexts[];
  readonly groupSize: number;
  /** `[contexts.length·groupSize]`, from {@link assignSources}. */
  readonly sampledFromPrior: readonly boolean[];
  /** Sampling temperature (CoVRL: 1). */
  readonly temperature: number;
  /** Generation budget per trace. */
  readonly maxTraceTokens: number;
  /** Base seed; row `r` gets `deriveSeed(seed, r)`. */
  readonly seed: number;
  /** EOS id; default `tokenizer.eosId`. Generating it ends the row, which is then malformed. */
  readonly eosId?: number;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** Ask the policy for sampler-side log-probs. Default false. */
  readonly returnLogProbs?: boolean;
}

/**
 * Trace well-formedness, methods.md §1 rule 4: stopped on `thinkClose` (ids end with it), the body
 * before it is non-empty, and the decoded body contains none of the four tag strings.
 */
export function isWellFormedTrace(args: {
  readonly traceIds: readonly number[];
  readonly finishReason: FinishReason;
  readonly thinkClose: readonly number[];
  /**
   * Every accepted stop (`ExampleContexts.thinkCloseStops`, `thinkClose` first). A trace ending
   * on a variant (`.</` `thinking` `>`, a BPE merge with the character before the tag) is judged
   * on its text: it must end with `tags.thinkClose`, and the body is the text before it.
   */
  readonly thinkCloseStops?: readonly (readonly number[])[];
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
}): boolean {
  const { traceIds, finishReason, thinkClose, tokenizer, tags } = args;
  if (finishReason !== 'stop') return false;
  let text: string;
  if (endsWithIds(traceIds, thinkClose)) {
    const body = traceIds.slice(0, traceIds.length - thinkClose.length);
    if (body.length === 0) return false;
    text = tokenizer.decode(body);
  } else {
    const stops = args.thinkCloseStops ?? [];
    if (!stops.some((stop) => endsWithIds(traceIds, stop))) return false;
    const full = tokenizer.decode(traceIds);
    if (!full.endsWith(tags.thinkClose)) return false;
    text = full.slice(0, full.length - tags.thinkClose.length);
  }
  if (text.length === 0) return false;
  return ![tags.thinkOpen, tags.thinkClose, tags.answerOpen, tags.answerClose].some((tag) =>
    text.includes(tag),
  );
}

/** Shared validation of batched sampling arguments; returns the common stop ids. */
export function validateSamplingBatch(
  fn: string,
  contexts: readonly ExampleContexts[],
  groupSize: number,
  stopKey: 'thinkClose' | 'answerClose',
): readonly number[] {
  if (!Array.isArray(contexts) || contexts.length === 0) {
    throw new Error(`${fn}: contexts must be a non-empty array of ExampleContexts`);
  }
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new Error(`${fn}: groupSize must be a positive integer, got ${String(groupSize)}`);
  }
  const first = contexts[0] as ExampleContexts;
  const stop = first[stopKey];
  contexts.forEach((ctx, i) => {
    if (!sameIds(ctx[stopKey], stop)) {
      throw new Error(
        `${fn}: contexts[${i}].${stopKey} differs from contexts[0].${stopKey}; build all contexts with one tokenizer and one set of tags`,
      );
    }
  });
  return stop;
}

/**
 * Samples one trace per row with ONE batched `policy.generate` call (methods.md §4 step 2):
 * row `r` of group `g = ⌊r/G⌋` is prompted with `contexts[g].priorPrefix` (PRIOR-SAMPLE) where
 * `sampledFromPrior[r]`, else `contexts[g].posteriorPrefix` (POSTERIOR); generation stops on the
 * ids of `thinkClose` or one of its BPE variants `contexts[0].thinkCloseStops` (inclusive), on
 * EOS, or after `maxTraceTokens`; row seeds are
 * `deriveSeed(seed, r)`.
 *
 * @returns one {@link TraceRollout} per row, in row order, with `truncated` and `wellFormed` flags.
 * @throws Error naming `sampleTraces` and the argument when lengths disagree, a prompt plus the
 *   budget exceeds `policy.maxContext`, or the policy returns the wrong number of rows.
 */
export async function sampleTraces(
  policy: Policy,
  args: SampleTracesArgs,
): Promise<TraceRollout[]> {
  const fn = 'sampleTraces';
  const { contexts, groupSize, sampledFromPrior, temperature, maxTraceTokens, seed, tokenizer } =
    args;
  validateTags(args.tags, fn);
  const thinkClose = validateSamplingBatch(fn, contexts, groupSize, 'thinkClose');
  const thinkCloseStops = stopSequencesOf(contexts[0] as ExampleContexts, 'thinkClose');
  if (sampledFromPrior.length !== contexts.length * groupSize) {
    throw new Error(
      `${fn}: sampledFromPrior has length ${sampledFromPrior.length}, expected contexts.length·groupSize = ${contexts.length * groupSize}`,
    );
  }
  if (!Number.isInteger(maxTraceTokens) || maxTraceTokens < 1) {
    throw new Error(`${fn}: maxTraceTokens must be a positive integer`);
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new Error(`${fn}: temperature must be a finite number ≥ 0 (0 = greedy)`);
  }
  if (!Number.isFinite(seed)) throw new Error(`${fn}: seed must be a finite number`);
  const prompts = sampledFromPrior.map((prior, r) => {
    const ctx = contexts[Math.floor(r / groupSize)] as ExampleContexts;
    return prior ? ctx.priorPrefix : ctx.posteriorPrefix;
  });
  prompts.forEach((prompt, r) => {
    if (prompt.length + maxTraceTokens > policy.maxContext) {
      throw new Error(
        `${fn}: maxTraceTokens ${maxTraceTokens} plus the ${prompt.length}-token prompt of row ${r} exceeds policy.maxContext ${policy.maxContext}; filter examples with checkContextBudget`,
      );
    }
  });
  const seeds = prompts.map((_, r) => deriveSeed(seed, r));
  const eosId = args.eosId ?? tokenizer.eosId;
  const returnLogProbs = args.returnLogProbs ?? false;
  const generated = await policy.generate({
    prompts,
    maxNewTokens: maxTraceTokens,
    temperature,
    stopSequences: thinkCloseStops,
    seeds,
    returnLogProbs,
    ...(eosId === undefined ? {} : { eosId }),
  });
  if (generated.length !== prompts.length) {
    throw new Error(
      `${fn}: policy.generate returned ${generated.length} rows for ${prompts.length} prompts`,
    );
  }
  return generated.map((out, r) => {
    const finishReason = out.finishReason;
    const traceIds = [...out.ids];
    return {
      exampleIndex: Math.floor(r / groupSize),
      row: r,
      source: sampledFromPrior[r] === true ? 'prior' : 'posterior',
      traceIds,
      finishReason,
      truncated: finishReason === 'length',
      wellFormed: isWellFormedTrace({
        traceIds,
        finishReason,
        thinkClose,
        thinkCloseStops,
        tokenizer,
        tags: args.tags,
      }),
      text: tokenizer.decode(traceIds),
      seed: seeds[r] as number,
      ...(returnLogProbs && out.logProbs !== undefined
        ? { samplerLogProbs: [...out.logProbs] }
        : {}),
    };
  });
}
