/**
 * How the template tags encode under a real tokenizer (methods.md §1–§2). Tags are plain strings
 * (configuration); a tokenizer that has a tag as an added or special token (Qwen3's `<think>` and
 * `</think>`) encodes it as that one id wherever it occurs, and as ordinary text otherwise. With a
 * byte-level BPE, ordinary-text tags merge with their neighbours (`.</` + `answer` + `>`,
 * `>` + `\n` → `>\n`), which moves the ids a model produces away from `enc(tag)`. This module finds
 * those cases for one (tokenizer, tags) pair:
 *
 * - {@link stopSequenceVariants}: every id sequence that ends a canonically encoded text exactly at
 *   the end of a stop tag (`enc('</answer>')`, and `['.</', 'answer', '>']` after a period), so
 *   generation stops on ids whatever character precedes the tag;
 * - {@link auditTemplateTokens}: the tags' ids, which are atomic, those variants, and the merges
 *   that no id-level rule can repair, as readable messages.
 *
 * @packageDocumentation
 */
import type { Tokenizer } from './policy.js';
import { validateTags } from './templates.js';
import type { Tags } from './templates.js';

/**
 * Characters a stop tag is probed after: ASCII punctuation, a letter, a digit, whitespace and a
 * few non-ASCII characters. A variant is found only if some probe merges with the tag.
 */
export const STOP_TAG_PROBES: readonly string[] = Object.freeze([
  ...'.,;:!?)]}>"\'`*_-+=/\\|$%&#@~^'.split(''),
  'a',
  'Z',
  '7',
  ' ',
  '\n',
  '\t',
  'é',
  '。',
  '）',
]);

/** Characters an answer commonly starts with, probed after the answer tag. */
const ANSWER_START_PROBES: readonly string[] = Object.freeze([
  ...'-+$\\(["\'.*<'.split(''),
  ' ',
  '\n',
  '7',
  'a',
  'A',
  'é',
]);

const variantCache = new WeakMap<Tokenizer, Map<string, readonly (readonly number[])[]>>();

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * The id sequences that end a canonically encoded text exactly at the end of `tag`:
 * `enc(tag)` first, then, for every probe `c` of `probes` (default {@link STOP_TAG_PROBES}) whose
 * encoding merges into the tag, the shortest suffix of `enc(c + tag)` that decodes to a string
 * ending with the whole tag (`['.</', 'answer', '>']` for `'.'` and `'</answer>'` on Qwen3).
 * Deduplicated, in probe order. A character-level tokenizer or an atomic tag gives `[enc(tag)]`
 * alone. Probes the tokenizer cannot encode, or whose text does not round-trip
 * (`decode(enc(c + tag)) ≠ c + tag`, a normalizing tokenizer), are skipped. Cached per (tokenizer object, tag) when `probes` is the default.
 *
 * @throws Error naming `stopSequenceVariants` when `tag` is empty or encodes to no ids.
 */
export function stopSequenceVariants(
  tokenizer: Tokenizer,
  tag: string,
  probes: readonly string[] = STOP_TAG_PROBES,
): readonly (readonly number[])[] {
  const fn = 'stopSequenceVariants';
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new Error(`${fn}: tag must be a non-empty string`);
  }
  const cacheable = probes === STOP_TAG_PROBES;
  const cached = cacheable ? variantCache.get(tokenizer)?.get(tag) : undefined;
  if (cached !== undefined) return cached;
  const canonical = tokenizer.encode(tag);
  if (canonical.length === 0)
    throw new Error(`${fn}: tag ${JSON.stringify(tag)} encodes to no ids`);
  const variants: number[][] = [canonical];
  for (const probe of probes) {
    let ids: number[];
    try {
      ids = tokenizer.encode(probe + tag);
    } catch {
      continue; // A vocabulary without this character (test tokenizers): nothing merges with it.
    }
    if (tokenizer.decode(ids) !== probe + tag) continue;
    for (let k = ids.length - 1; k >= 0; k--) {
      const tail = tokenizer.decode(ids.slice(k));
      if (tail.length >= tag.length && tail.endsWith(tag)) {
        const variant = ids.slice(k);
        if (!variants.some((v) => sameIds(v, variant))) variants.push(variant);
        break;
      }
    }
  }
  const frozen = Object.freeze(variants.map((v) => Object.freeze(v)));
  if (cacheable) {
    let perTokenizer = variantCache.get(tokenizer);
    if (perTokenizer === undefined) {
      perTokenizer = new Map();
      variantCache.set(tokenizer, perTokenizer);
    }
    perTokenizer.set(tag, frozen);
  }
  return frozen;
}

/** How one tag encodes. */
export interface TagEncoding {
  readonly text: string;
  readonly ids: readonly number[];
  /**
   * One id that decodes to exactly the tag: an added or special token of the vocabulary (or a
   * single vocabulary entry), so no merge can cross it.
   */
  readonly atomic: boolean;
}

/** Output of {@link auditTemplateTokens}. */
export interface TemplateTokenReport {
  readonly thinkOpen: TagEncoding;
  readonly thinkClose: TagEncoding;
  readonly answerOpen: TagEncoding;
  readonly answerClose: TagEncoding;
  /** {@link stopSequenceVariants} of the two stop tags (the canonical `enc(tag)` first). */
  readonly stops: {
    readonly thinkClose: readonly (readonly number[])[];
    readonly answerClose: readonly (readonly number[])[];
  };
  /**
   * Merges that id-level splicing cannot repair, one readable message each (empty for a
   * character tokenizer or atomic tags):
   * - the trace stop tag merging with the separator after it (`</thinking>` + `\n` → `>\n` on
   *   Qwen3): a model writing the template canonically never produces `enc(thinkClose)` there, so
   *   its traces end on the budget (truncated) instead of the stop;
   * - the answer tag merging with the first character of an answer (`>` + `-` → `>-`): the id
   *   splice of RLPR finds no token boundary after the model's own tag on such rows (it splices
   *   after `thinkClose` instead), and `enc(y)` of such answers is scored in a segmentation the
   *   model does not produce when writing `<answer>{y}` itself.
   */
  readonly hazards: readonly string[];
}

/**
 * Reports how `tags` encode under `tokenizer` (methods.md §2, "Fixed pieces"): each tag's ids and
 * whether it is atomic, the stop-sequence variants sampling accepts, and the merges across tag
 * boundaries that remain. Use it when bringing a new tokenizer: atomic tags (register them as
 * added tokens when training a tokenizer, or pick tags the vocabulary already has, as Qwen3's
 * `<think>`) leave no hazards.
 *
 * @throws Error naming `auditTemplateTokens` when a tag is empty (see `validateTags`).
 */
export function auditTemplateTokens(args: {
  readonly tokenizer: Tokenizer;
  readonly tags: Tags;
}): TemplateTokenReport {
  const { tokenizer, tags } = args;
  validateTags(tags, 'auditTemplateTokens');
  const encoding = (text: string): TagEncoding => {
    const ids = tokenizer.encode(text);
    return { text, ids, atomic: ids.length === 1 && tokenizer.decode(ids) === text };
  };
  const show = (ids: readonly number[]): string =>
    `[${ids.map((id) => JSON.stringify(tokenizer.decode([id]))).join(', ')}]`;
  const hazards: string[] = [];
  const thinkClose = encoding(tags.thinkClose);
  const next = tags.separator + tags.answerOpen;
  const closeThenNext = tokenizer.encode(tags.thinkClose + next);
  if (!sameIds(closeThenNext.slice(0, thinkClose.ids.length), thinkClose.ids)) {
    hazards.push(
      `thinkClose ${JSON.stringify(tags.thinkClose)} merges with the separator after it: enc(${JSON.stringify(tags.thinkClose + next)}) = ${show(closeThenNext)} does not start with enc(thinkClose) = ${show(thinkClose.ids)}, so a model writing the template canonically never stops a trace on ids; make the tag an added token or end it with a character that does not merge`,
    );
  }
  const answerOpen = encoding(tags.answerOpen);
  const merging = ANSWER_START_PROBES.filter((c) => {
    let ids: number[];
    try {
      ids = tokenizer.encode(tags.answerOpen + c);
    } catch {
      return false;
    }
    return (
      tokenizer.decode(ids) === tags.answerOpen + c &&
      !sameIds(ids.slice(0, answerOpen.ids.length), answerOpen.ids)
    );
  });
  if (merging.length > 0) {
    hazards.push(
      `answerOpen ${JSON.stringify(tags.answerOpen)} merges with an answer starting with ${merging.map((c) => JSON.stringify(c)).join(', ')} (enc(${JSON.stringify(tags.answerOpen + merging[0])}) = ${show(tokenizer.encode(tags.answerOpen + (merging[0] as string)))}): RLPR's id splice falls back to after thinkClose on such rows, and enc(y) of such answers is scored in a segmentation the model does not write itself`,
    );
  }
  return {
    thinkOpen: encoding(tags.thinkOpen),
    thinkClose,
    answerOpen,
    answerClose: encoding(tags.answerClose),
    stops: {
      thinkClose: stopSequenceVariants(tokenizer, tags.thinkClose),
      answerClose: stopSequenceVariants(tokenizer, tags.answerClose),
    },
    hazards,
  };
}
