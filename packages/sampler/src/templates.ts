/**
 * Text-level templates of every context in methods.md §1 (the pretraining corpus of `@covrl/data`
 * writes these same shapes). Training never scores these strings: it builds token-id contexts with
 * {@link buildContexts} so sampled trace ids are reused verbatim (methods.md §2).
 *
 * @packageDocumentation
 */

/** Tag strings of the templates; configuration, never literals in code (methods.md §1). */
export interface Tags {
  /** Text before the question, default `'Question: '`. */
  readonly questionPrefix: string;
  /** Opens the reasoning trace, default `'<think>'`. */
  readonly thinkOpen: string;
  /** Closes the reasoning trace (the trace stop sequence), default `'</think>'`. */
  readonly thinkClose: string;
  /** Opens the answer, default `'<answer>'`. */
  readonly answerOpen: string;
  /** Closes the answer (the full-response stop sequence), default `'</answer>'`. */
  readonly answerClose: string;
  /** Between the question, the answer block and the trace, default `'\n'`. */
  readonly separator: string;
}

/** The default tags of methods.md §1 [OURS]. */
export const DEFAULT_TAGS: Tags = Object.freeze({
  questionPrefix: 'Question: ',
  thinkOpen: '<think>',
  thinkClose: '</think>',
  answerOpen: '<answer>',
  answerClose: '</answer>',
  separator: '\n',
});

/** The `<thinking>` variant the CoVRL authors used for Qwen3-Base (methods.md §1). */
export const THINKING_TAGS: Tags = Object.freeze({
  ...DEFAULT_TAGS,
  thinkOpen: '<thinking>',
  thinkClose: '</thinking>',
});

/** The context kinds of methods.md §1 that have a text rendering. */
export type TemplateKind =
  | 'prior-sample'
  | 'prior-score'
  | 'posterior'
  | 'full-sample'
  | 'rlpr-baseline'
  | 'rlpr-baseline-empty-think';

/** The variable parts of a template. */
export interface TemplateFields {
  /** The question `x`. */
  readonly question: string;
  /** The reference answer `y`, exactly as scored. */
  readonly answer: string;
  /**
   * A trace as sampled, INCLUDING its closing think tag (`'7 sixes: 42.</think>'`), as in the
   * worked example of methods.md §1. Required by `'prior-score'`; appended by `'posterior'`.
   */
  readonly trace?: string;
  /** A full response as sampled (`trace</think>\n<answer>own</answer>`); appended by `'full-sample'`. */
  readonly response?: string;
}

/** Throws unless every tag field is a string and the four tags are non-empty. */
export function validateTags(tags: Tags, functionName: string): void {
  const keys = [
    'questionPrefix',
    'thinkOpen',
    'thinkClose',
    'answerOpen',
    'answerClose',
    'separator',
  ] as const;
  for (const key of keys) {
    if (typeof tags[key] !== 'string') {
      throw new Error(`${functionName}: tags.${key} must be a string, got ${typeof tags[key]}`);
    }
  }
  for (const key of ['thinkOpen', 'thinkClose', 'answerOpen', 'answerClose'] as const) {
    if (tags[key].length === 0) {
      throw new Error(`${functionName}: tags.${key} must be non-empty (it delimits a span)`);
    }
  }
}

/**
 * Renders one context of methods.md §1 as text (`x` question, `y` answer, `z` trace incl. its
 * closing tag, default tags shown):
 *
 * | kind | text |
 * |---|---|
 * | `'prior-sample'` | `Question: {x}\n<think>` |
 * | `'prior-score'` | `Question: {x}\n<think>{z}\n<answer>{y}</answer>` |
 * | `'posterior'` | `Question: {x}\n<answer>{y}</answer>\n<think>` (+ `{z}` when given) |
 * | `'full-sample'` | `Question: {x}\n<think>` (+ `{response}` when given) |
 * | `'rlpr-baseline'` | `Question: {x}\n<answer>{y}</answer>` |
 * | `'rlpr-baseline-empty-think'` | `Question: {x}\n<think></think>\n<answer>{y}</answer>` |
 *
 * Text only, for documentation, tests and the pretraining corpus; scoring uses token ids
 * ({@link buildContexts}), never these strings re-encoded (methods.md §2).
 *
 * @param kind - which context.
 * @param fields - `{ question, answer, trace?, response? }`.
 * @param tags - tag strings, default {@link DEFAULT_TAGS}.
 */
export function renderTemplate(
  kind: TemplateKind,
  fields: TemplateFields,
  tags: Tags = DEFAULT_TAGS,
): string {
  validateTags(tags, 'renderTemplate');
  if (typeof fields.question !== 'string') {
    throw new Error('renderTemplate: fields.question must be a string');
  }
  if (typeof fields.answer !== 'string') {
    throw new Error('renderTemplate: fields.answer must be a string');
  }
  const t = tags;
  const head = t.questionPrefix + fields.question + t.separator;
  const answerBlock = t.answerOpen + fields.answer + t.answerClose;
  switch (kind) {
    case 'prior-sample':
      return head + t.thinkOpen;
    case 'prior-score':
      if (fields.trace === undefined) {
        throw new Error(
          "renderTemplate: fields.trace is required for 'prior-score' (the sampled trace including its closing think tag)",
        );
      }
      return head + t.thinkOpen + fields.trace + t.separator + answerBlock;
    case 'posterior':
      return head + answerBlock + t.separator + t.thinkOpen + (fields.trace ?? '');
    case 'full-sample':
      return head + t.thinkOpen + (fields.response ?? '');
    case 'rlpr-baseline':
      return head + answerBlock;
    case 'rlpr-baseline-empty-think':
      return head + t.thinkOpen + t.thinkClose + t.separator + answerBlock;
    default: {
      const never: never = kind;
      throw new Error(
        `renderTemplate: kind must be one of the template kinds, got ${String(never)}`,
      );
    }
  }
}
