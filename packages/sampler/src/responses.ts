/**
 * FULL-SAMPLE rollouts (methods.md §1, §6): sample `z</think>\n<answer>own</answer>` from the
 * question alone for RLPR, the verifier GRPO reference and evaluation, check RLPR's format rule,
 * extract the answer, locate the model's own answer tag, and score the sampled response ids.
 * RLPR's reward passes (splicing the reference answer in) live in `rlpr-splice.ts`.
 *
 * @packageDocumentation
 */
import { stopSequencesOf } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { validateSamplingBatch } from './hybrid.js';
import { indexOfIds, shortestPrefixReaching } from './ids.js';
import type { FinishReason, Policy, ScoredSpan, ScoreRequest, Tokenizer } from './policy.js';
import { deriveSeed } from './rng.js';
import { scoreBlocks, temperatureField } from './score-blocks.js';
import { contextsOfRollouts } from './score-traces.js';
import { validateTags } from './templates.js';
import type { Tags } from './templates.js';

/** One sampled full response (FULL-SAMPLE). */
export interface ResponseRollout {
  readonly exampleIndex: number;
  readonly row: number;
  /** Generated ids, including the closing answer-tag ids (or EOS) that ended generation. */
  readonly responseIds: readonly number[];
  readonly finishReason: FinishReason;
  /** `finishReason === 'length'`. */
  readonly truncated: boolean;
  /** `tokenizer.decode(responseIds)`. */
  readonly text: string;
  /** RLPR format rule (see {@link checkResponseFormat}). */
  readonly formatValid: boolean;
  /** Text between the first `answerOpen` after `thinkClose` and the next `answerClose` (methods.md §1 rule 5). */
  readonly extractedAnswer?: string;
  /** Index in `responseIds` just after the model's own `answerOpen` ids (see {@link findOwnAnswerOpen}). */
  readonly answerOpenEnd?: number;
  readonly seed: number;
  /** Sampler-side log-probs, present iff requested. */
  readonly samplerLogProbs?: readonly number[];
}

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) count++;
  return count;
}

/**
 * Answer extraction (methods.md §1 rule 5): the text between the first `answerOpen` after the
 * first `thinkClose` and the next `answerClose`, untrimmed (normalisation belongs to the
 * verifier); `undefined` when any of the three is missing.
 */
export function extractAnswer(text: string, tags: Tags): string | undefined {
  const close = text.indexOf(tags.thinkClose);
  if (close < 0) return undefined;
  const open = text.indexOf(tags.answerOpen, close + tags.thinkClose.length);
  if (open < 0) return undefined;
  const start = open + tags.answerOpen.length;
  const end = text.indexOf(tags.answerClose, start);
  if (end < 0) return undefined;
  return text.slice(start, end);
}

/**
 * RLPR format rule (methods.md §6 reward step 4) [S: RLPR reference code]: valid iff `thinkClose`,
 * `answerOpen` and `answerClose` each occur exactly once in the generated text, in that order, no
 * `thinkOpen` occurs (the prompt supplies it), and the answer between the tags is non-empty after
 * trimming whitespace.
 */
export function checkResponseFormat(
  text: string,
  tags: Tags,
): { formatValid: boolean; extractedAnswer?: string } {
  const extracted = extractAnswer(text, tags);
  const base = extracted === undefined ? {} : { extractedAnswer: extracted };
  const once =
    countOccurrences(text, tags.thinkClose) === 1 &&
    countOccurrences(text, tags.answerOpen) === 1 &&
    countOccurrences(text, tags.answerClose) === 1 &&
    countOccurrences(text, tags.thinkOpen) === 0;
  const a = text.indexOf(tags.thinkClose);
  const b = text.indexOf(tags.answerOpen);
  const c = text.indexOf(tags.answerClose);
  const ordered = a >= 0 && a + tags.thinkClose.length <= b && b + tags.answerOpen.length <= c;
  const formatValid = once && ordered && extracted !== undefined && extracted.trim().length > 0;
  return { formatValid, ...base };
}

/**
 * Locates the model's own answer tag: the first `ctx.answerOpenTag` (`enc('<answer>')`) at or
 * after the end of the first `ctx.thinkClose` in `responseIds`, matched on ids (methods.md §2).
 *
 * With `text` (a `{ tokenizer, tags }` pair) a tag the model spelled with a non-canonical
 * segmentation (`<ans` + `wer>` where the encoder gives one `<answer>` id), or that a BPE merged
 * with the character before it (`.</` `think` `>`), is also found: the end of the first
 * `thinkClose`, and of the first `answerOpen` after it, in the decoded text is mapped back to ids
 * when it falls exactly on a token boundary (`decode(ids[0:k])` has that length). A tag whose
 * last character merged with what follows into one token (`>-` on Qwen3) is not found (no
 * boundary to splice at).
 *
 * @returns `{ thinkCloseEnd?, answerOpenEnd? }`: indices just after those ids, when found.
 */
export function findOwnAnswerOpen(
  responseIds: readonly number[],
  ctx: Pick<ExampleContexts, 'thinkClose' | 'answerOpenTag'>,
  text?: { readonly tokenizer: Tokenizer; readonly tags: Tags },
): { thinkCloseEnd?: number; answerOpenEnd?: number } {
  const close = indexOfIds(responseIds, ctx.thinkClose);
  const thinkCloseEnd = close < 0 ? undefined : close + ctx.thinkClose.length;
  if (thinkCloseEnd !== undefined) {
    const open = indexOfIds(responseIds, ctx.answerOpenTag, thinkCloseEnd);
    if (open >= 0) return { thinkCloseEnd, answerOpenEnd: open + ctx.answerOpenTag.length };
  }
  const base = thinkCloseEnd === undefined ? {} : { thinkCloseEnd };
  if (text === undefined) return base;
  const { tokenizer, tags } = text;
  const decoded = tokenizer.decode(responseIds);
  const closeAt = decoded.indexOf(tags.thinkClose);
  if (closeAt < 0) return base;
  // Smallest k whose decoded prefix has exactly `target` characters (binary search).
  const boundary = (target: number): number | undefined => {
    const reached = shortestPrefixReaching((x) => tokenizer.decode(x), responseIds, target);
    return reached !== undefined && reached.decoded.length === target ? reached.k : undefined;
  };
  const closeEnd = thinkCloseEnd ?? boundary(closeAt + tags.thinkClose.length);
  const withClose = closeEnd === undefined ? {} : { thinkCloseEnd: closeEnd };
  const openAt = decoded.indexOf(tags.answerOpen, closeAt + tags.thinkClose.length);
  if (openAt < 0) return withClose;
  const answerOpenEnd = boundary(openAt + tags.answerOpen.length);
  return answerOpenEnd === undefined ? withClose : { ...withClose, answerOpenEnd };
}

/** Arguments of {@link sampleResponses}. */
export interface SampleResponsesArgs {
  readonly contexts: readonly ExampleContexts[];
  /** Rows per question G (1 for evaluation). */
  readonly groupSize: number;
  /** Sampling temperature; `0` means greedy (passed to `Policy.generate` as `temperature: 0`). */
  readonly temperature: number;
  readonly maxNewTokens: number;
  /** Base seed; row `r` gets `deriveSeed(seed, r)`. */
  readonly seed: number;
  /** Default `tokenizer.eosId`. */
  readonly eosId?: number;
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** Arg-max decoding: sends `temperature: 0` whatever `temperature` says. Default false. */
  readonly greedy?: boolean;
  readonly returnLogProbs?: boolean;
}

/**
 * FULL-SAMPLE (methods.md §1): one batched `policy.generate` call with prompt
 * `contexts[⌊r/G⌋].priorPrefix` for every row, stopping on the ids of `answerClose` or one of
 * its BPE variants `contexts[0].answerCloseStops` (inclusive),
 * EOS or `maxNewTokens`. Greedy decoding (`greedy: true` or `temperature: 0`) is requested from
 * the policy as `temperature: 0`, which the `Policy.generate` contract defines as arg-max.
 *
 * @returns one {@link ResponseRollout} per row with the decoded text, RLPR format flag, extracted
 *   answer and the position of the model's own answer tag on ids.
 */
export async function sampleResponses(
  policy: Policy,
  args: SampleResponsesArgs,
): Promise<ResponseRollout[]> {
  const fn = 'sampleResponses';
  const { contexts, groupSize, maxNewTokens, seed, tokenizer, tags } = args;
  validateTags(tags, fn);
  validateSamplingBatch(fn, contexts, groupSize, 'answerClose');
  const answerCloseStops = stopSequencesOf(contexts[0] as ExampleContexts, 'answerClose');
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw new Error(`${fn}: maxNewTokens must be a positive integer`);
  }
  if (!(args.temperature >= 0) || !Number.isFinite(args.temperature)) {
    throw new Error(`${fn}: temperature must be a finite number ≥ 0 (0 = greedy)`);
  }
  if (!Number.isFinite(seed)) throw new Error(`${fn}: seed must be a finite number`);
  const temperature = args.greedy === true ? 0 : args.temperature;
  const numRows = contexts.length * groupSize;
  const prompts = Array.from(
    { length: numRows },
    (_, r) => (contexts[Math.floor(r / groupSize)] as ExampleContexts).priorPrefix,
  );
  prompts.forEach((prompt, r) => {
    if (prompt.length + maxNewTokens > policy.maxContext) {
      throw new Error(
        `${fn}: maxNewTokens ${maxNewTokens} plus the ${prompt.length}-token prompt of row ${r} exceeds policy.maxContext ${policy.maxContext}`,
      );
    }
  });
  const seeds = prompts.map((_, r) => deriveSeed(seed, r));
  const eosId = args.eosId ?? tokenizer.eosId;
  const returnLogProbs = args.returnLogProbs ?? false;
  const generated = await policy.generate({
    prompts,
    maxNewTokens,
    temperature,
    stopSequences: answerCloseStops,
    seeds,
    returnLogProbs,
    ...(eosId === undefined ? {} : { eosId }),
  });
  if (generated.length !== numRows) {
    throw new Error(
      `${fn}: policy.generate returned ${generated.length} rows for ${numRows} prompts`,
    );
  }
  return generated.map((out, r) => {
    const exampleIndex = Math.floor(r / groupSize);
    const ctx = contexts[exampleIndex] as ExampleContexts;
    const responseIds = [...out.ids];
    const text = tokenizer.decode(responseIds);
    const { formatValid, extractedAnswer } = checkResponseFormat(text, tags);
    const { answerOpenEnd } = findOwnAnswerOpen(responseIds, ctx, { tokenizer, tags });
    return {
      exampleIndex,
      row: r,
      responseIds,
      finishReason: out.finishReason,
      truncated: out.finishReason === 'length',
      text,
      formatValid,
      ...(extractedAnswer === undefined ? {} : { extractedAnswer }),
      ...(answerOpenEnd === undefined ? {} : { answerOpenEnd }),
      seed: seeds[r] as number,
      ...(returnLogProbs && out.logProbs !== undefined
        ? { samplerLogProbs: [...out.logProbs] }
        : {}),
    };
  });
}

/** Arguments of the response scoring functions. */
export interface ScoreResponsesArgs {
  readonly rollouts: readonly Pick<ResponseRollout, 'exampleIndex' | 'responseIds'>[];
  readonly contexts: readonly ExampleContexts[];
  /** Scoring temperature = sampling temperature (methods.md §3.1). Default 1. */
  readonly temperature?: number;
}

/**
 * Response log-probs in the FULL-SAMPLE context (methods.md §6 "Per rollout inputs"):
 * sequence `priorPrefix ‖ o` with `o` the sampled response ids, `logProbs[b, t] =
 * log π(o_{b,t} | x, o_{b,<t})`, shape `[B, T]`, `T = max_b |o_b|`, mask 1 at real tokens.
 * One `policy.scoreTokens` call; differentiable; leaks nothing but its outputs.
 */
export function scoreResponses(policy: Policy, args: ScoreResponsesArgs): ScoredSpan {
  const fn = 'scoreResponses';
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  const request: ScoreRequest<'response'> = {
    sequences: args.rollouts.map((r, b) => [
      ...(perRow[b] as ExampleContexts).priorPrefix,
      ...r.responseIds,
    ]),
    spans: {
      response: args.rollouts.map((r, b) => ({
        start: (perRow[b] as ExampleContexts).priorPrefix.length,
        length: r.responseIds.length,
      })),
    },
    ...temperatureField(fn, args.temperature),
  };
  const [out] = scoreBlocks(fn, policy, request, [
    { key: 'response', rowStart: 0, rows: args.rollouts.length },
  ]);
  return out as ScoredSpan;
}
