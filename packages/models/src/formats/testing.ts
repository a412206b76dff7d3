/**
 * Fixtures for tests of the format layer and of packages that need a real `tokenizer.json`
 * without downloading one. Re-exported by `@covrl/models/testing`.
 *
 * @packageDocumentation
 */

/**
 * GPT-2's byte → printable-character table (`bytes_to_unicode` of openai/gpt-2 `encoder.py`):
 * printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in order.
 */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

/** Options of {@link tinyByteLevelBpeJson}. */
export interface TinyBpeOptions {
  /** Merges in priority order, as pairs of byte-level strings. Default: a few English merges. */
  readonly merges?: readonly (readonly [string, string])[];
  /** Non-special added tokens matched atomically (the tag strings). Default: the four R1 tags. */
  readonly addedTokens?: readonly string[];
  /** Special token at id 0. Default `'<|endoftext|>'`. */
  readonly eosToken?: string;
}

/** Default merges: `th`, `the`, ` t`, ` the`, `in`, `ink`, `think`, ` a`, `an`, `er` (Ġ is the space). */
export const TINY_BPE_MERGES: readonly (readonly [string, string])[] = Object.freeze([
  ['t', 'h'],
  ['th', 'e'],
  ['Ġ', 't'],
  ['Ġ', 'the'],
  ['i', 'n'],
  ['in', 'k'],
  ['th', 'ink'],
  ['Ġ', 'a'],
  ['a', 'n'],
  ['e', 'r'],
]);

/**
 * A small byte-level BPE `tokenizer.json` in the format of HF `tokenizers` (GPT-2 style:
 * ByteLevel pre-tokenizer and decoder, no prefix space): id 0 is the special EOS token, ids
 * 1..256 the byte alphabet, then one id per merge, then the added (tag) tokens.
 */
export function tinyByteLevelBpeJson(options: TinyBpeOptions = {}): Record<string, unknown> {
  const eos = options.eosToken ?? '<|endoftext|>';
  const merges = options.merges ?? TINY_BPE_MERGES;
  const added = options.addedTokens ?? ['<think>', '</think>', '<answer>', '</answer>'];
  const vocab: Record<string, number> = { [eos]: 0 };
  let next = 1;
  for (const ch of byteLevelAlphabet()) vocab[ch] = next++;
  for (const [a, b] of merges) {
    // The Rust implementation refuses merges whose parts are not tokens; fail early instead.
    if (vocab[a] === undefined || vocab[b] === undefined) {
      throw new Error(
        `tinyByteLevelBpeJson: merge '${a} ${b}' uses a part that is not yet a token`,
      );
    }
    if (vocab[a + b] === undefined) vocab[a + b] = next++;
  }
  const addedTokens = [
    {
      id: 0,
      content: eos,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    },
  ];
  for (const content of added) {
    vocab[content] = next;
    addedTokens.push({
      id: next++,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
    });
  }
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
