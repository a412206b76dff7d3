/**
 * Token-id contexts of one example (methods.md §1–§2): every fixed piece is encoded separately,
 * always the same way, and cached per example; traces are spliced in as sampled ids.
 *
 * @packageDocumentation
 */
import type { Tokenizer } from './policy.js';
import { stopSequenceVariants } from './template-tokens.js';
import { validateTags } from './templates.js';
import type { Tags } from './templates.js';

/**
 * The encoded fixed pieces of one (question, answer) example. Every field is `enc(piece)` of one
 * piece, encoded on its own (never a re-encoding of a concatenation that includes sampled ids).
 * Default tags shown:
 */
export interface ExampleContexts {
  /** PRIOR-SAMPLE / PRIOR-SCORE / FULL-SAMPLE prefix: `enc('Question: ' + x + '\n<think>')`. */
  readonly priorPrefix: readonly number[];
  /** POSTERIOR prefix: `enc('Question: ' + x + '\n<answer>' + y + '</answer>\n<think>')`. */
  readonly posteriorPrefix: readonly number[];
  /** Spliced between a trace and the answer: `enc('\n<answer>')`. */
  readonly answerOpen: readonly number[];
  /** The reference answer: `enc(y)`. */
  readonly answer: readonly number[];
  /** `enc('</answer>')`: the full-response stop sequence and the teacher-forced closing tag. */
  readonly answerClose: readonly number[];
  /** `enc('</think>')`: the trace stop sequence. */
  readonly thinkClose: readonly number[];
  /**
   * RLPR-BASELINE prefix: `enc('Question: ' + x + '\n<answer>')`, or with
   * `baselineContext: 'empty-think'` `enc('Question: ' + x + '\n<think></think>\n<answer>')`.
   */
  readonly baselinePrefix: readonly number[];
  /** `enc('<answer>')` without the separator: searched for in the model's own responses (RLPR-SPLICE). */
  readonly answerOpenTag: readonly number[];
  /**
   * Present only when a BPE merges the trace stop tag with the character before it: every id
   * sequence that ends canonically encoded text exactly at the end of `thinkClose`, `thinkClose`
   * first (`stopSequenceVariants`); sampling stops on any of them. Absent: `[thinkClose]`.
   */
  readonly thinkCloseStops?: readonly (readonly number[])[];
  /** The same for `answerClose` (`['.</', 'answer', '>']` after a period on Qwen3). */
  readonly answerCloseStops?: readonly (readonly number[])[];
}

/** The stop sequences of a context: `ctx[key + 'Stops']`, or `[ctx[key]]` when absent. */
export function stopSequencesOf(
  ctx: ExampleContexts,
  key: 'thinkClose' | 'answerClose',
): readonly (readonly number[])[] {
  return (key === 'thinkClose' ? ctx.thinkCloseStops : ctx.answerCloseStops) ?? [ctx[key]];
}

/** Arguments of {@link buildContexts}. */
export interface BuildContextsArgs {
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
  /** The question `x`. */
  readonly question: string;
  /** The reference answer `y` (non-empty), exactly as scored. */
  readonly answer: string;
  /** RLPR-BASELINE context (methods.md §6, `rlpr.baselineContext`); default `'no-think'`. */
  readonly baselineContext?: 'no-think' | 'empty-think';
}

function encodePiece(
  tokenizer: Tokenizer,
  text: string,
  piece: string,
  functionName: string,
): number[] {
  const ids = tokenizer.encode(text);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
      throw new Error(
        `${functionName}: tokenizer encoded ${piece} to id ${String(id)} outside [0, ${tokenizer.vocabSize})`,
      );
    }
  }
  if (ids.length === 0) {
    throw new Error(
      `${functionName}: tokenizer encoded ${piece} (${JSON.stringify(text)}) to no ids; every piece must be non-empty`,
    );
  }
  return ids;
}

/**
 * Encodes the fixed pieces of one example (methods.md §2 "Fixed pieces"). Each piece is encoded
 * separately so a context is `enc(prefix) ‖ z ‖ enc(suffix pieces)` with the sampled ids `z` in
 * the middle, never re-encoded. With a character tokenizer piecewise and whole-string encodings
 * coincide; with BPE register the tags as atomic tokens so no merge crosses a piece boundary.
 * When a BPE merges a stop tag with the character before it (`.</` + `answer` + `>`), the
 * contexts also carry every id sequence that ends text at the tag (`thinkCloseStops`,
 * `answerCloseStops`); `auditTemplateTokens` reports the merges no id rule can repair.
 *
 * @throws Error naming `buildContexts` and the argument when the question or answer is not a
 *   string, the answer is empty, a tag is empty, or a piece encodes to no ids or to ids outside
 *   `[0, tokenizer.vocabSize)`.
 */
export function buildContexts(args: BuildContextsArgs): ExampleContexts {
  const fn = 'buildContexts';
  const { tokenizer, tags, question, answer } = args;
  validateTags(tags, fn);
  if (typeof question !== 'string') throw new Error(`${fn}: question must be a string`);
  if (typeof answer !== 'string' || answer.length === 0) {
    throw new Error(`${fn}: answer must be a non-empty string (it is the scored span)`);
  }
  const baselineContext = args.baselineContext ?? 'no-think';
  if (baselineContext !== 'no-think' && baselineContext !== 'empty-think') {
    throw new Error(
      `${fn}: baselineContext must be 'no-think' or 'empty-think', got ${String(baselineContext)}`,
    );
  }
  const t = tags;
  const head = t.questionPrefix + question + t.separator;
  const baselineText =
    baselineContext === 'no-think'
      ? head + t.answerOpen
      : head + t.thinkOpen + t.thinkClose + t.separator + t.answerOpen;
  const pieces = {
    priorPrefix: encodePiece(tokenizer, head + t.thinkOpen, 'priorPrefix', fn),
    posteriorPrefix: encodePiece(
      tokenizer,
      head + t.answerOpen + answer + t.answerClose + t.separator + t.thinkOpen,
      'posteriorPrefix',
      fn,
    ),
    answerOpen: encodePiece(tokenizer, t.separator + t.answerOpen, 'answerOpen', fn),
    answer: encodePiece(tokenizer, answer, 'answer', fn),
    answerClose: encodePiece(tokenizer, t.answerClose, 'answerClose', fn),
    thinkClose: encodePiece(tokenizer, t.thinkClose, 'thinkClose', fn),
    baselinePrefix: encodePiece(tokenizer, baselineText, 'baselinePrefix', fn),
    answerOpenTag: encodePiece(tokenizer, t.answerOpen, 'answerOpenTag', fn),
  };
  // After the pieces, so a tokenizer that cannot encode a tag fails above, naming the piece.
  const thinkCloseStops = stopSequenceVariants(tokenizer, t.thinkClose);
  const answerCloseStops = stopSequenceVariants(tokenizer, t.answerClose);
  return {
    ...pieces,
    ...(thinkCloseStops.length > 1 ? { thinkCloseStops } : {}),
    ...(answerCloseStops.length > 1 ? { answerCloseStops } : {}),
  };
}

/** Arguments of {@link checkContextBudget}. */
export interface ContextBudget {
  /** Generation budget of a trace in tokens. */
  readonly maxTraceTokens: number;
  /** Longest sequence the policy accepts (`Policy.maxContext`). */
  readonly maxContext: number;
}

/**
 * Context budget of methods.md §3.1: both
 * `len(posteriorPrefix) + maxTraceTokens` and
 * `len(priorPrefix) + maxTraceTokens + len(answerOpen ‖ answer ‖ answerClose)` must be
 * `≤ maxContext`, and so must the RLPR-BASELINE sequence `baselinePrefix ‖ answer ‖ answerClose`.
 *
 * @returns `undefined` when the example fits, else a message saying which context is too long by
 *   how much (use it to skip or filter the example).
 */
export function checkContextBudget(
  contexts: ExampleContexts,
  budget: ContextBudget,
): string | undefined {
  const fn = 'checkContextBudget';
  if (!Number.isInteger(budget.maxTraceTokens) || budget.maxTraceTokens < 1) {
    throw new Error(`${fn}: maxTraceTokens must be a positive integer`);
  }
  if (!Number.isInteger(budget.maxContext) || budget.maxContext < 1) {
    throw new Error(`${fn}: maxContext must be a positive integer`);
  }
  const { maxTraceTokens, maxContext } = budget;
  const posterior = contexts.posteriorPrefix.length + maxTraceTokens;
  const suffix = contexts.answerOpen.length + contexts.answer.length + contexts.answerClose.length;
  const prior = contexts.priorPrefix.length + maxTraceTokens + suffix;
  const baseline =
    contexts.baselinePrefix.length + contexts.answer.length + contexts.answerClose.length;
  const problems: string[] = [];
  if (prior > maxContext) {
    problems.push(`PRIOR-SCORE needs ${prior} tokens`);
  }
  if (posterior > maxContext) {
    problems.push(`POSTERIOR needs ${posterior} tokens`);
  }
  if (baseline > maxContext) {
    problems.push(`RLPR-BASELINE needs ${baseline} tokens`);
  }
  if (problems.length === 0) return undefined;
  return `${problems.join('; ')} but maxContext is ${maxContext} (maxTraceTokens ${maxTraceTokens}); shorten the example or the trace budget`;
}
