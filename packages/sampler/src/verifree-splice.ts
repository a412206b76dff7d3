/**
 * VeriFree's faithful `<answer` cut (`verifree.splice = 'string'`, methods.md §2) [S: VeriFree
 * reference code]. Our default VeriFree splices on ids (`scoreTraces({ answerSpan:
 * 'answer+close' })`); this mode reproduces the reference for comparison. Given the sampled ids,
 * the cut is made on them whenever it falls on one of their token boundaries (character-level
 * tokens, atomic tags); re-encoding the decoded text is only the fallback.
 *
 * @packageDocumentation
 */
import type { ExampleContexts } from './contexts.js';
import { shortestPrefixReaching } from './ids.js';
import type { Policy, ScoredSpan, ScoreRequest, TokenSpan, Tokenizer } from './policy.js';
import { contextsOfRollouts } from './score-traces.js';
import { scoreBlocks } from './score-blocks.js';
import type { Tags } from './templates.js';

/** One row of the string splice. */
export interface VerifreeStringSplice {
  /**
   * The reasoning, scored as the trace: with `cut: 'ids'` the sampled ids up to the first token
   * boundary at or after `<answer`, verbatim; with `cut: 'text'`
   * `enc(response[..cut] + answerOpen[..−1])`.
   */
  readonly reasoningIds: number[];
  /** `enc(rest of answerOpen + y + answerClose)`: the scored answer span (`>42</answer>`). */
  readonly answerIds: number[];
  /** False when the response has no `answerOpen` minus its last character (reward 0 in VeriFree). */
  readonly found: boolean;
  /** `ids` when the cut was made on the sampled ids, `text` when the reasoning was re-encoded. */
  readonly cut: 'ids' | 'text';
}

/**
 * Where VeriFree's cut falls on the sampled ids: the smallest `k` whose decoded prefix
 * `decode(ids[0:k])` reaches the character cut (`textCut + answerOpen.length − 1`, just before the
 * tag's last character), provided that prefix is the text's own prefix and ends inside the tag:
 * everything it decodes from the tag's start on (`decoded.slice(textCut)`) is a prefix of
 * `answerOpen`. The token reaching the cut may start before the tag (`x<answer`, `x<answer>`);
 * it must end at the cut (`<answer`) or at the tag's end (an atomic `<answer>`), never past it.
 * Returns `k` and the tag text after the boundary (`>` or `''`); `undefined` when that token runs
 * past the tag into what follows (`r>4`: no boundary to cut at). Found by binary search
 * ({@link shortestPrefixReaching}), O(log n) decodes.
 */
function idBoundary(
  tokenizer: Tokenizer,
  ids: readonly number[],
  text: string,
  textCut: number,
  answerOpen: string,
): { k: number; rest: string } | undefined {
  const target = textCut + answerOpen.length - 1;
  const reached = shortestPrefixReaching((x) => tokenizer.decode(x), ids, target);
  if (reached === undefined) return undefined;
  const { k, decoded } = reached;
  const tagPart = decoded.slice(textCut);
  const onText = decoded === text.slice(0, decoded.length);
  return onText && answerOpen.startsWith(tagPart)
    ? { k, rest: answerOpen.slice(tagPart.length) }
    : undefined;
}

/**
 * VeriFree's `<answer` cut on one response [S: VeriFree reference code; methods.md §2]: find the
 * first occurrence of the answer tag without its last character (`'<answer'`), keep the response
 * up to and including it as the reasoning, and encode `'>' + y + '</answer>'` separately as the
 * answer span. VeriFree cuts before `>` because in the Qwen BPE `>` merges with what follows,
 * whereas `<answer` ends on a boundary the model produces; the reward therefore also prices the
 * format tokens.
 *
 * On ids (given `responseIds`), the form methods.md §2 prescribes when the cut falls on a token
 * boundary (character-level tokens, atomic tags): the reasoning is `responseIds[0:k]` verbatim,
 * where `k` is the first token boundary at or after the cut of the text's first `<answer`, and the
 * answer span is `enc(rest of the tag + y + answerClose)`: `>42</answer>` when a token ends at
 * `<answer`, `42</answer>` when the tag is one atomic `<answer>` id; `cut: 'ids'`. The sampled
 * ids are never re-encoded then, so a non-canonical segmentation (`th` + `ink`) is scored as drawn.
 * Fallback, `cut: 'text'`: without `responseIds`, or when a token merges the tag with what
 * follows (`r>4`: no boundary to cut at), `text[:cut] + '<answer'` is re-encoded, as the reference
 * does (tolerable only because VeriFree re-scores the spliced ids on-policy), and
 * `'>' + y + answerClose` is priced.
 *
 * Rows without the tag are flagged `found: false`; their reasoning is the response followed by
 * `separator + '<answer'` (on ids: `responseIds ‖ enc(separator) ‖ enc('<answer')`).
 *
 * Pure. Throws, naming the function, when `answerOpen` has fewer than 2 characters, `answer` is
 * empty, neither `responseText` nor `responseIds` is given, or `responseText` is not
 * `decode(responseIds)`.
 */
export function buildVerifreeStringSplice(args: {
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /**
   * The decoded response (text generated after the prompt's `thinkOpen`); default
   * `decode(responseIds)`.
   */
  readonly responseText?: string;
  /** The sampled response ids; enables the cut on ids. */
  readonly responseIds?: readonly number[];
  /** The reference answer `y`. */
  readonly answer: string;
}): VerifreeStringSplice {
  const fn = 'buildVerifreeStringSplice';
  const { tokenizer, tags, responseIds, answer } = args;
  if (tags.answerOpen.length < 2) {
    throw new Error(
      `${fn}: tags.answerOpen must have at least 2 characters to cut before its last`,
    );
  }
  if (answer.length === 0) throw new Error(`${fn}: answer must be non-empty`);
  if (args.responseText === undefined && responseIds === undefined) {
    throw new Error(`${fn}: give responseText or responseIds`);
  }
  const text = args.responseText ?? tokenizer.decode(responseIds ?? []);
  if (responseIds !== undefined && args.responseText !== undefined) {
    if (tokenizer.decode(responseIds) !== args.responseText) {
      throw new Error(`${fn}: responseText must equal tokenizer.decode(responseIds)`);
    }
  }
  const head = tags.answerOpen.slice(0, -1);
  const tail = tags.answerOpen.slice(-1);
  const textCut = text.indexOf(head);
  const found = textCut >= 0;
  if (responseIds !== undefined && !found) {
    // Fixed pieces after the sampled ids, each encoded on its own (methods.md §2).
    return {
      reasoningIds: [
        ...responseIds,
        ...tokenizer.encode(tags.separator),
        ...tokenizer.encode(head),
      ],
      answerIds: tokenizer.encode(tail + answer + tags.answerClose),
      found,
      cut: 'ids',
    };
  }
  const boundary =
    responseIds === undefined
      ? undefined
      : idBoundary(tokenizer, responseIds, text, textCut, tags.answerOpen);
  if (responseIds !== undefined && boundary !== undefined) {
    return {
      reasoningIds: responseIds.slice(0, boundary.k),
      answerIds: tokenizer.encode(boundary.rest + answer + tags.answerClose),
      found,
      cut: 'ids',
    };
  }
  const reasoningText = found ? text.slice(0, textCut) + head : text + tags.separator + head;
  return {
    reasoningIds: tokenizer.encode(reasoningText),
    answerIds: tokenizer.encode(tail + answer + tags.answerClose),
    found,
    cut: 'text',
  };
}

/**
 * Scores the VeriFree string splice ({@link buildVerifreeStringSplice}) of B responses in one
 * `policy.scoreTokens` call: sequence `priorPrefix ‖ reasoningIds ‖ answerIds`, spans `trace`
 * (the reasoning, `[B, T]`) and `answer` (`>y</answer>`, `[B, A]`); differentiable, leaks nothing
 * but its outputs. A rollout that carries `responseIds` (a `ResponseRollout` does) is cut on its
 * sampled ids when the cut falls on one of their token boundaries; otherwise its text is
 * re-encoded.
 *
 * @param answers - reference answer text per example (`answers[rollout.exampleIndex]`).
 * @returns `{ trace, answer, found, cut }`; rows with `found[b] = false` get reward 0 in
 *   VeriFree; `cut[b]` says whether row b was cut on ids or re-encoded.
 */
export function scoreVerifreeStringSplice(
  policy: Policy,
  args: {
    readonly rollouts: readonly {
      readonly exampleIndex: number;
      readonly text: string;
      /** The sampled response ids (`decode(responseIds) === text`); enables the cut on ids. */
      readonly responseIds?: readonly number[];
    }[];
    readonly contexts: readonly ExampleContexts[];
    readonly answers: readonly string[];
    readonly tokenizer: Tokenizer;
    readonly tags: Tags;
    readonly temperature?: number;
  },
): { trace: ScoredSpan; answer: ScoredSpan; found: boolean[]; cut: ('ids' | 'text')[] } {
  const fn = 'scoreVerifreeStringSplice';
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  const sequences: number[][] = [];
  const trace: TokenSpan[] = [];
  const answerSpans: TokenSpan[] = [];
  const found: boolean[] = [];
  const cut: ('ids' | 'text')[] = [];
  args.rollouts.forEach((r, b) => {
    const y = args.answers[r.exampleIndex];
    if (y === undefined) {
      throw new Error(
        `${fn}: answers has no entry for rollouts[${b}].exampleIndex ${r.exampleIndex}`,
      );
    }
    const splice = buildVerifreeStringSplice({
      tokenizer: args.tokenizer,
      tags: args.tags,
      responseText: r.text,
      ...(r.responseIds === undefined ? {} : { responseIds: r.responseIds }),
      answer: y,
    });
    const prefix = (perRow[b] as ExampleContexts).priorPrefix;
    sequences.push([...prefix, ...splice.reasoningIds, ...splice.answerIds]);
    trace.push({ start: prefix.length, length: splice.reasoningIds.length });
    answerSpans.push({
      start: prefix.length + splice.reasoningIds.length,
      length: splice.answerIds.length,
    });
    found.push(splice.found);
    cut.push(splice.cut);
  });
  if (
    args.temperature !== undefined &&
    !(args.temperature > 0 && Number.isFinite(args.temperature))
  ) {
    throw new Error(`${fn}: temperature must be a finite number > 0`);
  }
  const request: ScoreRequest<'trace' | 'answer'> = {
    sequences,
    spans: { trace, answer: answerSpans },
    ...(args.temperature === undefined ? {} : { temperature: args.temperature }),
  };
  const B = args.rollouts.length;
  const [t, a] = scoreBlocks(fn, policy, request, [
    { key: 'trace', rowStart: 0, rows: B },
    { key: 'answer', rowStart: 0, rows: B },
  ]);
  return { trace: t as ScoredSpan, answer: a as ScoredSpan, found, cut };
}
