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
import { scoreBlocks, temperatureField } from './score-blocks.js';
import { contextsOfRollouts } from './score-traces.js';
import type { Tags } from './templates.js';

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
