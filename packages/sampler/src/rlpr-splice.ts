/**
 * FULL-SAMPLE rollouts and their scoring passes for RLPR, the verifier GRPO reference and
 * evaluation (methods.md §1, §2, §6): sample `z</think>\n<answer>own</answer>` from the question
 * alone, score the response, splice the reference answer (RLPR-SPLICE) and score the no-reasoning
 * baseline (RLPR-BASELINE).
 *
 * @packageDocumentation
 */
import type { ExampleContexts } from './contexts.js';
import { validateSamplingBatch } from './hybrid.js';
import { indexOfIds } from './ids.js';
import type {
  FinishReason,
  Policy,
  ScoredSpan,
  ScoreRequest,
  TokenSpan,
  Tokenizer,
} from './policy.js';
import { deriveSeed } from './rng.js';
import { contextsOfRollouts } from './score.js';
import { scoreBlocks } from './scoring.js';
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
 * segmentation (`<ans` + `wer>` where the encoder gives one `<answer>` id) is also found: the end
 * of the first `answerOpen` after the first `thinkClose` in the decoded text is mapped back to ids
 * when it falls exactly on a token boundary (`decode(ids[0:k])` has that length). A tag merged
 * with neighbouring characters into one token is not found (no boundary to splice at).
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
  const openAt = decoded.indexOf(tags.answerOpen, closeAt + tags.thinkClose.length);
  if (openAt < 0) return base;
  const target = openAt + tags.answerOpen.length;
  // Smallest k whose decoded prefix has exactly `target` characters. O(n²) characters over a
  // response of n ids; responses are a few hundred ids at most.
  for (let k = 1; k <= responseIds.length; k++) {
    const length = tokenizer.decode(responseIds.slice(0, k)).length;
    if (length === target) return { ...base, answerOpenEnd: k };
    if (length > target) break;
  }
  return base;
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
 * `contexts[⌊r/G⌋].priorPrefix` for every row, stopping on the ids of `answerClose` (inclusive),
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
  const answerClose = validateSamplingBatch(fn, contexts, groupSize, 'answerClose');
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
    stopSequences: [answerClose],
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

function temperatureField(fn: string, temperature: number | undefined): { temperature?: number } {
  if (temperature === undefined) return {};
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`${fn}: temperature must be a finite number > 0`);
  }
  return { temperature };
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

/** How the reference answer was spliced into a sampled response (RLPR-SPLICE). */
export type SpliceMode =
  /** After the model's own `answerOpen` ids (the normal case). */
  | 'own-answer-open'
  /** No own `answerOpen` after `thinkClose`: spliced after `thinkClose` ‖ `enc('\n<answer>')`. */
  | 'after-think-close'
  /** No `thinkClose` either: whole response ‖ `enc('</think>')` ‖ `enc('\n<answer>')`. */
  | 'appended'
  /** The spliced sequence exceeded `maxContext`; the RLPR-BASELINE sequence was scored instead. */
  | 'over-long';

/** Arguments of {@link scoreRlprSplice} and {@link buildRlprSpliceRequest}. */
export interface RlprSpliceArgs extends ScoreResponsesArgs {
  /**
   * Rollouts; when `answerOpenEnd` is present (as {@link sampleResponses} sets it, text fallback
   * included) it is used as the splice point instead of searching the ids again.
   */
  readonly rollouts: readonly Pick<
    ResponseRollout,
    'exampleIndex' | 'responseIds' | 'answerOpenEnd'
  >[];
  /**
   * With `tags`, enables the text fallback of {@link findOwnAnswerOpen}: a model answer tag
   * written with a non-canonical segmentation is still spliced after (recommended).
   */
  readonly tokenizer?: Tokenizer;
  readonly tags?: Tags;
}

/** Pure RLPR-SPLICE request plus the splice mode of every row. */
export function buildRlprSpliceRequest(args: RlprSpliceArgs & { readonly maxContext?: number }): {
  request: ScoreRequest<'answer'>;
  splice: SpliceMode[];
} {
  const fn = 'buildRlprSpliceRequest';
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  const maxContext = args.maxContext ?? Number.POSITIVE_INFINITY;
  const sequences: number[][] = [];
  const answer: TokenSpan[] = [];
  const splice: SpliceMode[] = [];
  args.rollouts.forEach((rollout, b) => {
    const ctx = perRow[b] as ExampleContexts;
    const ids = rollout.responseIds;
    const given = rollout.answerOpenEnd;
    if (given !== undefined && (!Number.isInteger(given) || given < 1 || given > ids.length)) {
      throw new Error(
        `${fn}: rollouts[${b}].answerOpenEnd ${given} is not an index in [1, ${ids.length}] of its responseIds`,
      );
    }
    const found = findOwnAnswerOpen(
      ids,
      ctx,
      args.tokenizer !== undefined && args.tags !== undefined
        ? { tokenizer: args.tokenizer, tags: args.tags }
        : undefined,
    );
    const thinkCloseEnd = found.thinkCloseEnd;
    const answerOpenEnd = given ?? found.answerOpenEnd;
    let head: number[];
    let mode: SpliceMode;
    if (answerOpenEnd !== undefined) {
      head = [...ctx.priorPrefix, ...ids.slice(0, answerOpenEnd)];
      mode = 'own-answer-open';
    } else if (thinkCloseEnd !== undefined) {
      head = [...ctx.priorPrefix, ...ids.slice(0, thinkCloseEnd), ...ctx.answerOpen];
      mode = 'after-think-close';
    } else {
      head = [...ctx.priorPrefix, ...ids, ...ctx.thinkClose, ...ctx.answerOpen];
      mode = 'appended';
    }
    if (head.length + ctx.answer.length + ctx.answerClose.length > maxContext) {
      head = [...ctx.baselinePrefix];
      mode = 'over-long';
    }
    sequences.push([...head, ...ctx.answer, ...ctx.answerClose]);
    answer.push({ start: head.length, length: ctx.answer.length });
    splice.push(mode);
  });
  return {
    request: { sequences, spans: { answer }, ...temperatureField(fn, args.temperature) },
    splice,
  };
}

/**
 * RLPR-SPLICE scoring (methods.md §1, §2, §6 reward step 1) [OURS on ids]: the sampled ids
 * through the model's own `answerOpen` ‖ `enc(y)` ‖ `enc('</answer>')`, scoring `enc(y)` only,
 * in one `policy.scoreTokens` call. Rows without an own `answerOpen` after `thinkClose` are
 * spliced after `thinkClose` ‖ `enc('\n<answer>')` (or after the whole response) and flagged in
 * `splice`; rows whose spliced sequence exceeds `policy.maxContext` are flagged `'over-long'` and
 * score the baseline sequence instead (RLPR gives malformed and over-long rows `r = 0`).
 *
 * @returns `{ logProbs, mask }` `[B, A]` (A = longest `enc(y)`) and `splice` `[B]`.
 */
export function scoreRlprSplice(
  policy: Policy,
  args: RlprSpliceArgs,
): ScoredSpan & { readonly splice: SpliceMode[] } {
  const { request, splice } = buildRlprSpliceRequest({ ...args, maxContext: policy.maxContext });
  const [out] = scoreBlocks('scoreRlprSplice', policy, request, [
    { key: 'answer', rowStart: 0, rows: args.rollouts.length },
  ]);
  return { ...(out as ScoredSpan), splice };
}

/**
 * RLPR-BASELINE scoring (methods.md §6 reward step 2): sequence `baselinePrefix ‖ enc(y) ‖
 * enc('</answer>')` per example, scoring `enc(y)`; `[N, A]` for N contexts. Compute once with the
 * initial model and cache per example [S: RLPR reference code].
 */
export function scoreRlprBaseline(
  policy: Policy,
  args: { readonly contexts: readonly ExampleContexts[]; readonly temperature?: number },
): ScoredSpan {
  const fn = 'scoreRlprBaseline';
  if (!Array.isArray(args.contexts) || args.contexts.length === 0) {
    throw new Error(`${fn}: contexts must be a non-empty array of ExampleContexts`);
  }
  const request: ScoreRequest<'answer'> = {
    sequences: args.contexts.map((c) => [...c.baselinePrefix, ...c.answer, ...c.answerClose]),
    spans: {
      answer: args.contexts.map((c) => ({
        start: c.baselinePrefix.length,
        length: c.answer.length,
      })),
    },
    ...temperatureField(fn, args.temperature),
  };
  const [out] = scoreBlocks(fn, policy, request, [
    { key: 'answer', rowStart: 0, rows: args.contexts.length },
  ]);
  return out as ScoredSpan;
}

/**
 * RLPR's offset selection (methods.md §2) [S: RLPR reference code]: the indices of every token
 * whose character span `[start, end)` overlaps `[answerCharStart, answerCharEnd)`, i.e.
 * `start < answerCharEnd && end > answerCharStart`. Boundary tokens merging whitespace or
 * punctuation with the first or last character of `y` are included; zero-width tokens (EOS,
 * special tokens with empty offsets) never overlap and are excluded.
 */
export function selectAnswerTokensByOffsets(args: {
  readonly offsets: readonly (readonly [number, number])[];
  readonly answerCharStart: number;
  readonly answerCharEnd: number;
}): number[] {
  const fn = 'selectAnswerTokensByOffsets';
  const { offsets, answerCharStart, answerCharEnd } = args;
  if (!Number.isInteger(answerCharStart) || !Number.isInteger(answerCharEnd)) {
    throw new Error(`${fn}: answerCharStart and answerCharEnd must be integers`);
  }
  if (answerCharStart < 0 || answerCharEnd <= answerCharStart) {
    throw new Error(
      `${fn}: answerCharEnd (${answerCharEnd}) must exceed answerCharStart (${answerCharStart}) ≥ 0; the answer must be non-empty`,
    );
  }
  const selected: number[] = [];
  offsets.forEach(([start, end], i) => {
    if (start < answerCharEnd && end > answerCharStart && end > start) selected.push(i);
  });
  return selected;
}

/**
 * RLPR's faithful string splice (`rlpr.splice = 'string'`, methods.md §2) [S: RLPR reference
 * code]: the string `prompt + response[..last thinkClose] + own text up to and including the
 * model's answerOpen + its leading whitespace + y + ' ' + answerClose`, encoded whole with offsets
 * (EOS id appended when the tokenizer has one), and the indices of the tokens overlapping `y`
 * (found searching backwards from the closing tag). Only the reward uses this re-encoded sequence.
 *
 * @returns `undefined` when the response has no `thinkClose` or no `answerOpen` after it
 *   (malformed: reward 0).
 * @throws Error naming `buildRlprStringSplice` when the tokenizer has no `encodeWithOffsets`.
 */
export function buildRlprStringSplice(args: {
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** Decoded prompt (FULL-SAMPLE prefix) text. */
  readonly promptText: string;
  /** Decoded response text. */
  readonly responseText: string;
  readonly answer: string;
}): { ids: number[]; answerTokenIndices: number[] } | undefined {
  const fn = 'buildRlprStringSplice';
  const { tokenizer, tags, promptText, responseText, answer } = args;
  if (tokenizer.encodeWithOffsets === undefined) {
    throw new Error(`${fn}: tokenizer must implement encodeWithOffsets for the string splice`);
  }
  if (answer.length === 0) throw new Error(`${fn}: answer must be non-empty`);
  const close = responseText.lastIndexOf(tags.thinkClose);
  if (close < 0) return undefined;
  const reasoningEnd = close + tags.thinkClose.length;
  const open = responseText.indexOf(tags.answerOpen, reasoningEnd);
  if (open < 0) return undefined;
  const openEnd = open + tags.answerOpen.length;
  const leading = /^\s*/.exec(responseText.slice(openEnd))?.[0] ?? '';
  const head = promptText + responseText.slice(0, openEnd) + leading;
  const full = head + answer + ' ' + tags.answerClose;
  const closeAt = full.lastIndexOf(' ' + tags.answerClose);
  const answerCharEnd = closeAt;
  const answerCharStart = answerCharEnd - answer.length;
  const { ids, offsets } = tokenizer.encodeWithOffsets(full);
  const answerTokenIndices = selectAnswerTokensByOffsets({
    offsets,
    answerCharStart,
    answerCharEnd,
  });
  return {
    ids: tokenizer.eosId === undefined ? ids : [...ids, tokenizer.eosId],
    answerTokenIndices,
  };
}
