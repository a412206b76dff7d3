/**
 * VeriFree's faithful `<answer` cut (`verifree.splice = 'string'`, methods.md §2) [S: VeriFree
 * reference code]. Our default VeriFree splices on ids (`scoreTraces({ answerSpan:
 * 'answer+close' })`); this mode reproduces the reference for comparison.
 *
 * @packageDocumentation
 */
import type { ExampleContexts } from './contexts.js';
import type { Policy, ScoredSpan, ScoreRequest, TokenSpan, Tokenizer } from './policy.js';
import { contextsOfRollouts } from './score.js';
import { scoreBlocks } from './scoring.js';
import type { Tags } from './templates.js';

/** One row of the string splice. */
export interface VerifreeStringSplice {
  /** `enc(response[..cut] + answerOpen[..−1])`: the re-encoded reasoning (scored as the trace). */
  readonly reasoningIds: number[];
  /** `enc(answerOpen[−1] + y + answerClose)`: the scored answer span (`>42</answer>`). */
  readonly answerIds: number[];
  /** False when the response has no `answerOpen` minus its last character (reward 0 in VeriFree). */
  readonly found: boolean;
}

/**
 * The `<answer` cut on one decoded response: find the first occurrence of the answer tag without
 * its last character (`'<answer'`), re-encode `text[:cut] + '<answer'` as the reasoning and encode
 * `'>' + y + '</answer>'` separately as the answer span. VeriFree cuts before `>` because in the
 * Qwen BPE `>` merges with what follows, whereas `<answer` ends on a boundary the model produces;
 * the reward therefore also prices the format tokens. Rows without the tag re-encode the whole
 * response followed by `separator + '<answer'` and are flagged `found: false`.
 *
 * Pure; re-encodes text (tolerable only because VeriFree re-scores the spliced ids on-policy).
 */
export function buildVerifreeStringSplice(args: {
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** The decoded response (text generated after the prompt's `thinkOpen`). */
  readonly responseText: string;
  /** The reference answer `y`. */
  readonly answer: string;
}): VerifreeStringSplice {
  const fn = 'buildVerifreeStringSplice';
  const { tokenizer, tags, responseText, answer } = args;
  if (tags.answerOpen.length < 2) {
    throw new Error(
      `${fn}: tags.answerOpen must have at least 2 characters to cut before its last`,
    );
  }
  if (answer.length === 0) throw new Error(`${fn}: answer must be non-empty`);
  const head = tags.answerOpen.slice(0, -1);
  const tail = tags.answerOpen.slice(-1);
  const cut = responseText.indexOf(head);
  const found = cut >= 0;
  const reasoningText = found
    ? responseText.slice(0, cut) + head
    : responseText + tags.separator + head;
  return {
    reasoningIds: tokenizer.encode(reasoningText),
    answerIds: tokenizer.encode(tail + answer + tags.answerClose),
    found,
  };
}

/**
 * Scores the VeriFree string splice of B responses in one `policy.scoreTokens` call: sequence
 * `priorPrefix ‖ reasoningIds ‖ answerIds`, spans `trace` (the re-encoded reasoning, `[B, T]`) and
 * `answer` (`>y</answer>`, `[B, A]`); differentiable, leaks nothing but its outputs.
 *
 * @param answers - reference answer text per example (`answers[rollout.exampleIndex]`).
 * @returns `{ trace, answer, found }`; rows with `found[b] = false` get reward 0 in VeriFree.
 */
export function scoreVerifreeStringSplice(
  policy: Policy,
  args: {
    readonly rollouts: readonly { readonly exampleIndex: number; readonly text: string }[];
    readonly contexts: readonly ExampleContexts[];
    readonly answers: readonly string[];
    readonly tokenizer: Tokenizer;
    readonly tags: Tags;
    readonly temperature?: number;
  },
): { trace: ScoredSpan; answer: ScoredSpan; found: boolean[] } {
  const fn = 'scoreVerifreeStringSplice';
  const perRow = contextsOfRollouts(fn, args.rollouts, args.contexts);
  const sequences: number[][] = [];
  const trace: TokenSpan[] = [];
  const answerSpans: TokenSpan[] = [];
  const found: boolean[] = [];
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
  return { trace: t as ScoredSpan, answer: a as ScoredSpan, found };
}
