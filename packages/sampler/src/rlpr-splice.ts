/**
 * RLPR's reward passes (methods.md §1, §2, §6): splice the reference answer into a sampled
 * FULL-SAMPLE response and score it (RLPR-SPLICE, on ids by default, or RLPR's faithful string
 * splice with offset-based answer-token selection), and score the no-reasoning baseline
 * (RLPR-BASELINE). Sampling the responses lives in `responses.ts`.
 *
 * @packageDocumentation
 */
import type { ExampleContexts } from './contexts.js';
import type { Policy, ScoredSpan, ScoreRequest, TokenSpan, Tokenizer } from './policy.js';
import { findOwnAnswerOpen } from './responses.js';
import type { ResponseRollout, ScoreResponsesArgs } from './responses.js';
import { shortestPrefixReaching } from './ids.js';
import { scoreBlocks, temperatureField } from './score-blocks.js';
import { contextsOfRollouts } from './score-traces.js';
import type { Tags } from './templates.js';

/** How the reference answer was spliced into a sampled response (RLPR-SPLICE). */
export type SpliceMode =
  /** After the model's own `answerOpen` ids (the normal case). */
  | 'own-answer-open'
  /**
   * The model wrote its own `answerOpen` after `thinkClose`, but a BPE merged the tag's last
   * characters with the answer into one token (`>-`, `>\n`, `>$` on Qwen3), so no id boundary
   * ends the tag: spliced after the sampled ids before that token ‖ `enc(the rest of the tag)`
   * (`enc('>')`). Needs `tokenizer` and `tags`. A well-formed response; only the tag's last token
   * is re-encoded.
   */
  | 'own-answer-open-split'
  /** No own `answerOpen` after `thinkClose`: spliced after `thinkClose` ‖ `enc('\n<answer>')`. */
  | 'after-think-close'
  /** No `thinkClose` either: whole response ‖ `enc('</think>')` ‖ `enc('\n<answer>')`. */
  | 'appended'
  /** The spliced sequence exceeded `maxContext`; the RLPR-BASELINE sequence was scored instead. */
  | 'over-long';

/** Arguments of {@link scoreRlprSplice} and {@link buildRlprSpliceRequest}. */
export interface RlprSpliceArgs extends ScoreResponsesArgs {
  /**
   * Rollouts; when `answerOpenEnd` is present (as `sampleResponses` sets it, text fallback
   * included) it is used as the splice point instead of searching the ids again.
   */
  readonly rollouts: readonly Pick<
    ResponseRollout,
    'exampleIndex' | 'responseIds' | 'answerOpenEnd'
  >[];
  /**
   * With `tags`, enables the text fallback of {@link findOwnAnswerOpen} (a model answer tag
   * written with a non-canonical segmentation is still spliced after) and the
   * `'own-answer-open-split'` re-split of a tag merged with the answer (recommended; needed on
   * BPE vocabularies whose answer tag is ordinary text, as Qwen3's).
   */
  readonly tokenizer?: Tokenizer;
  readonly tags?: Tags;
}

/**
 * The model's own `answerOpen` (the first after the first `thinkClose`, found on the decoded text)
 * when its last characters share a token with what follows: how many sampled ids precede that
 * token (`keep`) and the text from their end to the tag's end (`rest`, `'>'`). Undefined when
 * the tag is absent or ends on a token boundary, when the ids before the merged token do not
 * decode to a prefix of the text, or when that token starts before the end of `thinkClose`.
 * O(log n) decodes ({@link shortestPrefixReaching}).
 */
function splitOwnAnswerOpen(
  ids: readonly number[],
  tokenizer: Tokenizer,
  tags: Tags,
): { keep: number; rest: string } | undefined {
  const decode = (x: readonly number[]): string => tokenizer.decode(x);
  const text = decode(ids);
  const closeAt = text.indexOf(tags.thinkClose);
  if (closeAt < 0) return undefined;
  const closeEnd = closeAt + tags.thinkClose.length;
  const openAt = text.indexOf(tags.answerOpen, closeEnd);
  if (openAt < 0) return undefined;
  const target = openAt + tags.answerOpen.length;
  const reached = shortestPrefixReaching(decode, ids, target);
  if (reached === undefined || reached.decoded.length === target) return undefined;
  const keep = reached.k - 1;
  const kept = decode(ids.slice(0, keep));
  if (kept.length < closeEnd || text.slice(0, kept.length) !== kept) return undefined;
  return { keep, rest: text.slice(kept.length, target) };
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
    const text =
      args.tokenizer !== undefined && args.tags !== undefined
        ? { tokenizer: args.tokenizer, tags: args.tags }
        : undefined;
    const found = findOwnAnswerOpen(ids, ctx, text);
    const thinkCloseEnd = found.thinkCloseEnd;
    const answerOpenEnd = given ?? found.answerOpenEnd;
    const split =
      answerOpenEnd === undefined && text !== undefined
        ? splitOwnAnswerOpen(ids, text.tokenizer, text.tags)
        : undefined;
    let head: number[];
    let mode: SpliceMode;
    if (answerOpenEnd !== undefined) {
      head = [...ctx.priorPrefix, ...ids.slice(0, answerOpenEnd)];
      mode = 'own-answer-open';
    } else if (split !== undefined && text !== undefined) {
      head = [
        ...ctx.priorPrefix,
        ...ids.slice(0, split.keep),
        ...text.tokenizer.encode(split.rest),
      ];
      mode = 'own-answer-open-split';
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
 * in one `policy.scoreTokens` call. With `tokenizer` and `tags`, an own tag whose last token
 * merged with the answer (`>-` on Qwen3) is re-split there (`'own-answer-open-split'`). Rows
 * without an own `answerOpen` after `thinkClose` are spliced after `thinkClose` ‖
 * `enc('\n<answer>')` (or after the whole response) and flagged in `splice`; rows whose spliced
 * sequence exceeds `policy.maxContext` are flagged `'over-long'` and score the baseline sequence
 * instead (RLPR gives malformed and over-long rows `r = 0`).
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

/** One re-encoded RLPR string: its ids (EOS appended when the tokenizer has one) and answer tokens. */
interface StringSplice {
  readonly ids: number[];
  readonly answerTokenIndices: number[];
}

/**
 * The RLPR string `head + y + ' ' + answerClose` encoded whole, where `head` is the prompt plus the
 * response through its answer tag and that tag's trailing whitespace; `undefined` when the response
 * has no `thinkClose` or no `answerOpen` after its last one.
 */
function encodeStringSplice(
  encodeWithOffsets: NonNullable<Tokenizer['encodeWithOffsets']>,
  eosId: number | undefined,
  tags: Tags,
  promptText: string,
  responseText: string,
  answer: string,
): StringSplice | undefined {
  const close = responseText.lastIndexOf(tags.thinkClose);
  if (close < 0) return undefined;
  const reasoningEnd = close + tags.thinkClose.length;
  const open = responseText.indexOf(tags.answerOpen, reasoningEnd);
  if (open < 0) return undefined;
  const openEnd = open + tags.answerOpen.length;
  const leading = /^\s*/.exec(responseText.slice(openEnd))?.[0] ?? '';
  const head = promptText + responseText.slice(0, openEnd) + leading;
  const full = head + answer + ' ' + tags.answerClose;
  // Searching backwards from the closing tag, as the reference does (methods.md §2).
  const answerCharEnd = full.lastIndexOf(' ' + tags.answerClose);
  const answerCharStart = answerCharEnd - answer.length;
  const { ids, offsets } = encodeWithOffsets(full);
  const answerTokenIndices = selectAnswerTokensByOffsets({
    offsets,
    answerCharStart,
    answerCharEnd,
  });
  return { ids: eosId === undefined ? ids : [...ids, eosId], answerTokenIndices };
}

function offsetEncoder(
  fn: string,
  tokenizer: Tokenizer,
): NonNullable<Tokenizer['encodeWithOffsets']> {
  const encodeWithOffsets = tokenizer.encodeWithOffsets;
  if (encodeWithOffsets === undefined) {
    throw new Error(
      `${fn}: tokenizer must implement encodeWithOffsets for the string splice (rlpr.splice = 'string'); use the id splice (scoreRlprSplice) otherwise`,
    );
  }
  return encodeWithOffsets.bind(tokenizer);
}

/**
 * RLPR's faithful string splice (`rlpr.splice = 'string'`, methods.md §2) [S: RLPR reference
 * code]: the string `prompt + response[..last thinkClose] + own text up to and including the
 * model's answerOpen + its leading whitespace + y + ' ' + answerClose`, encoded whole with offsets
 * (EOS id appended when the tokenizer has one), and the indices of the tokens overlapping `y`
 * (found searching backwards from the closing tag). Only the reward uses this re-encoded sequence.
 * {@link scoreRlprStringSplice} scores it.
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
  const encodeWithOffsets = offsetEncoder(fn, tokenizer);
  if (answer.length === 0) throw new Error(`${fn}: answer must be non-empty`);
  return encodeStringSplice(
    encodeWithOffsets,
    tokenizer.eosId,
    tags,
    promptText,
    responseText,
    answer,
  );
}

/** Arguments of {@link scoreRlprStringSplice} and {@link buildRlprStringSpliceRequest}. */
export interface RlprStringSpliceArgs {
  /**
   * Sampled responses: `text` (the decoded response, as `sampleResponses` sets it) or, when
   * absent, `tokenizer.decode(responseIds)`. One of the two is required.
   */
  readonly rollouts: readonly {
    readonly exampleIndex: number;
    readonly text?: string;
    readonly responseIds?: readonly number[];
  }[];
  readonly contexts: readonly ExampleContexts[];
  /**
   * Reference answer text per example (`answers[rollout.exampleIndex]`), the `y` that
   * `contexts[i].answer` encodes. Default `tokenizer.decode(contexts[i].answer)`.
   */
  readonly answers?: readonly string[];
  /** Must implement `encodeWithOffsets` (character offsets in UTF-16 units). */
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** Scoring temperature = sampling temperature (methods.md §3.1). Default 1. */
  readonly temperature?: number;
}

/** Output of {@link buildRlprStringSpliceRequest}. */
export interface RlprStringSpliceRequest {
  /** One re-encoded sequence per rollout; span `answer` covers its answer tokens. */
  readonly request: ScoreRequest<'answer'>;
  /** How each row was spliced (same meaning as in {@link scoreRlprSplice}). */
  readonly splice: SpliceMode[];
  /**
   * Per row, the indices (into `request.sequences[b]`) of the tokens whose character offsets
   * overlap `y`: a contiguous run, the `answer` span. For `'over-long'` rows, the `enc(y)` span
   * of the baseline sequence.
   */
  readonly answerTokenIndices: number[][];
}

/**
 * The pure request of {@link scoreRlprStringSplice}: for each rollout, the RLPR string of
 * {@link buildRlprStringSplice} with `prompt = tokenizer.decode(contexts[i].priorPrefix)`, its
 * re-encoded ids as the sequence and the answer tokens selected by character offsets as the
 * `answer` span `{ start: first index, length: count }`.
 *
 * Rows the reference gives reward 0 are still scored, so the raw probability can be logged, and
 * flagged in `splice` as the id splice does: no own `answerOpen` after the last `thinkClose` →
 * `'after-think-close'` (the response through `thinkClose` + `separator + answerOpen`); no
 * `thinkClose` → `'appended'` (the whole response + `thinkClose + separator + answerOpen`); a
 * re-encoded sequence longer than `maxContext` → `'over-long'`, scoring the RLPR-BASELINE ids
 * `baselinePrefix ‖ enc(y) ‖ enc(answerClose)` instead.
 *
 * @throws Error naming `buildRlprStringSpliceRequest` when the tokenizer has no
 *   `encodeWithOffsets`, a rollout has neither `text` nor `responseIds`, an answer is missing or
 *   empty, or the selected answer tokens are empty, not contiguous or start at index 0 (offsets
 *   that are not monotone: the tokenizer's offset mapping is broken).
 */
export function buildRlprStringSpliceRequest(
  args: RlprStringSpliceArgs & { readonly maxContext?: number },
): RlprStringSpliceRequest {
  const fn = 'buildRlprStringSpliceRequest';
  const { tokenizer, tags } = args;
  const encodeWithOffsets = offsetEncoder(fn, tokenizer);
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  const maxContext = args.maxContext ?? Number.POSITIVE_INFINITY;
  const sequences: number[][] = [];
  const answer: TokenSpan[] = [];
  const splice: SpliceMode[] = [];
  const answerTokenIndices: number[][] = [];
  args.rollouts.forEach((rollout, b) => {
    const ctx = perRow[b] as ExampleContexts;
    const y =
      args.answers === undefined
        ? tokenizer.decode(ctx.answer)
        : args.answers[rollout.exampleIndex];
    if (typeof y !== 'string' || y.length === 0) {
      throw new Error(
        `${fn}: answers[${rollout.exampleIndex}] (for rollouts[${b}]) must be a non-empty string`,
      );
    }
    let text = rollout.text;
    if (text === undefined) {
      if (rollout.responseIds === undefined) {
        throw new Error(`${fn}: rollouts[${b}] needs text or responseIds`);
      }
      text = tokenizer.decode(rollout.responseIds);
    }
    const prompt = tokenizer.decode(ctx.priorPrefix);
    const encode = (response: string): StringSplice | undefined =>
      encodeStringSplice(encodeWithOffsets, tokenizer.eosId, tags, prompt, response, y);
    let mode: SpliceMode = 'own-answer-open';
    let built = encode(text);
    if (built === undefined) {
      const close = text.lastIndexOf(tags.thinkClose);
      const suffix = tags.separator + tags.answerOpen;
      mode = close >= 0 ? 'after-think-close' : 'appended';
      built =
        close >= 0
          ? encode(text.slice(0, close + tags.thinkClose.length) + suffix)
          : encode(text + tags.thinkClose + suffix);
    }
    if (built === undefined) {
      throw new Error(
        `${fn}: rollouts[${b}]: the fallback splice has no answer tag (tags.answerOpen occurs in tags.thinkClose?)`,
      );
    }
    if (built.ids.length > maxContext) {
      const start = ctx.baselinePrefix.length;
      sequences.push([...ctx.baselinePrefix, ...ctx.answer, ...ctx.answerClose]);
      answer.push({ start, length: ctx.answer.length });
      answerTokenIndices.push(ctx.answer.map((_, k) => start + k));
      splice.push('over-long');
      return;
    }
    const selected = built.answerTokenIndices;
    const first = selected[0];
    if (first === undefined || first < 1 || selected.some((index, k) => index !== first + k)) {
      throw new Error(
        `${fn}: rollouts[${b}]: the tokens overlapping the answer are [${selected.join(', ')}], not a non-empty contiguous run after position 0; the tokenizer's encodeWithOffsets returned offsets that are not monotone`,
      );
    }
    sequences.push(built.ids);
    answer.push({ start: first, length: selected.length });
    answerTokenIndices.push(selected);
    splice.push(mode);
  });
  return {
    request: { sequences, spans: { answer }, ...temperatureField(fn, args.temperature) },
    splice,
    answerTokenIndices,
  };
}

/**
 * RLPR's faithful string-splice scoring (`rlpr.splice = 'string'`, methods.md §2, §6 reward step
 * 1) [S: RLPR reference code]: the counterpart of {@link scoreRlprSplice} for the string mode.
 * Each response's text is re-encoded with the reference answer spliced in
 * ({@link buildRlprStringSpliceRequest}), the answer tokens are the ones whose character offsets
 * overlap `y` (boundary tokens merging whitespace or punctuation with `y` included, tags
 * excluded), and their log-probs `log π(s_j | s_<j)` are read in one `policy.scoreTokens` call.
 * Only the reward uses these re-encoded ids; the policy gradient uses the sampled ids
 * (`scoreResponses`).
 *
 * Same output shape and flags as {@link scoreRlprSplice}, so the two are interchangeable: rows
 * flagged other than `'own-answer-open'` are malformed or over-long and get `r = 0` in RLPR.
 *
 * @returns `{ logProbs, mask }` `[B, A]` (A = most answer tokens of a row), `splice` `[B]` and
 *   `answerTokenIndices` (per row, the scored positions of the re-encoded sequence).
 */
export function scoreRlprStringSplice(
  policy: Policy,
  args: RlprStringSpliceArgs,
): ScoredSpan & { readonly splice: SpliceMode[]; readonly answerTokenIndices: number[][] } {
  const { request, splice, answerTokenIndices } = buildRlprStringSpliceRequest({
    ...args,
    maxContext: policy.maxContext,
  });
  const [out] = scoreBlocks('scoreRlprStringSplice', policy, request, [
    { key: 'answer', rowStart: 0, rows: args.rollouts.length },
  ]);
  return { ...(out as ScoredSpan), splice, answerTokenIndices };
}
