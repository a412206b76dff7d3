/**
 * A character-level tokenizer with atomic special and tag tokens, for tiny models trained from
 * scratch. Piecewise and whole-string encodings agree at every tag boundary, which token-id-exact
 * splicing relies on (method spec §2).
 *
 * @packageDocumentation
 */
import type { Tokenizer } from '@covrl/sampler';

/** File name of a {@link CharTokenizer}'s JSON inside a model directory (`writeCharTokenizer` in `@covrl/models/node`). */
export const CHAR_TOKENIZER_FILE = 'covrl-char-tokenizer.json';

/** Options shared by {@link CharTokenizer.fromCorpus} and {@link CharTokenizer.fromAlphabet}. */
export interface CharTokenizerOptions {
  /** Padding token (id 0). Default `'<pad>'`. */
  readonly padToken?: string;
  /** End-of-sequence token (id 1). Default `'<eos>'`. */
  readonly eosToken?: string;
  /**
   * Unknown-character token (id 2 when set). Absent (default): encoding an unknown character
   * throws an error naming it and its position.
   */
  readonly unkToken?: string;
  /**
   * Extra atomic multi-character tokens, for example the tag strings `'<think>'`, `'</think>'`,
   * `'<answer>'`, `'</answer>'`: each encodes to ONE id. Ids follow the special tokens, in order.
   */
  readonly atomicTokens?: readonly string[];
}

/** The JSON form written to `covrl-char-tokenizer.json`. */
export interface CharTokenizerJson {
  readonly type: 'covrl-char-tokenizer';
  readonly version: 1;
  /** Token strings in id order. */
  readonly vocab: readonly string[];
  readonly padToken: string;
  readonly eosToken: string;
  readonly unkToken: string | null;
  /** Tokens matched as a whole during encoding (specials and atomic tokens). */
  readonly atomicTokens: readonly string[];
}

/**
 * Character tokenizer: ids are `[pad, eos, unk?, ...atomicTokens, ...characters]`, characters
 * (Unicode code points) sorted by code point so the same alphabet always gives the same ids.
 *
 * Encoding scans left to right; at each position the longest atomic token (pad, eos, unk and the
 * configured atomic tokens) that starts there wins, otherwise one code point is emitted. So
 * `'<think>'` is one token, and the text `'<eos>'` encodes to the EOS id (decoding keeps specials
 * verbatim, so `encode(decode(ids))` returns `ids` for every id sequence without unknowns).
 * Offsets are UTF-16 code-unit indices into the input string (JavaScript `slice` positions).
 */
export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly eosId: number;
  /** Id of the unknown token, or undefined when unknown characters are an error. */
  readonly unkId: number | undefined;
  /** Token strings in id order. */
  readonly vocab: readonly string[];
  readonly padToken: string;
  readonly eosToken: string;
  readonly unkToken: string | undefined;
  readonly atomicTokens: readonly string[];
  readonly #ids: ReadonlyMap<string, number>;
  /** First UTF-16 unit of an atomic token → the atomic tokens starting with it, longest first. */
  readonly #atomicByFirst: ReadonlyMap<string, readonly string[]>;

  private constructor(json: CharTokenizerJson) {
    const ids = new Map<string, number>();
    json.vocab.forEach((token, id) => {
      if (typeof token !== 'string' || token.length === 0) {
        throw new Error(`CharTokenizer: vocab[${id}] must be a non-empty string`);
      }
      if (ids.has(token))
        throw new Error(
          `CharTokenizer: token ${JSON.stringify(token)} appears twice in the vocabulary`,
        );
      if (!json.atomicTokens.includes(token) && [...token].length !== 1) {
        throw new Error(
          `CharTokenizer: vocab[${id}] = ${JSON.stringify(token)} has several characters but is not an atomic token`,
        );
      }
      ids.set(token, id);
    });
    const idOf = (token: string, what: string): number => {
      const id = ids.get(token);
      if (id === undefined)
        throw new Error(`CharTokenizer: ${what} ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.vocab = Object.freeze([...json.vocab]);
    this.vocabSize = json.vocab.length;
    this.padToken = json.padToken;
    this.eosToken = json.eosToken;
    this.unkToken = json.unkToken ?? undefined;
    this.atomicTokens = Object.freeze([...json.atomicTokens]);
    this.padId = idOf(json.padToken, 'padToken');
    this.eosId = idOf(json.eosToken, 'eosToken');
    this.unkId = json.unkToken === null ? undefined : idOf(json.unkToken, 'unkToken');
    for (const t of json.atomicTokens) idOf(t, 'atomic token');
    this.#ids = ids;
    const byFirst = new Map<string, string[]>();
    for (const t of json.atomicTokens) {
      const first = t[0] as string;
      byFirst.set(first, [...(byFirst.get(first) ?? []), t]);
    }
    for (const list of byFirst.values()) list.sort((a, b) => b.length - a.length);
    this.#atomicByFirst = byFirst;
  }

  /**
   * Build from an explicit alphabet (a string of characters or a list of single characters);
   * duplicates are removed.
   * @throws Error when a special or atomic token is empty or repeated, or an alphabet entry is
   *   not a single character.
   */
  static fromAlphabet(
    alphabet: string | readonly string[],
    options: CharTokenizerOptions = {},
  ): CharTokenizer {
    const chars = typeof alphabet === 'string' ? [...alphabet] : [...alphabet];
    chars.forEach((ch, i) => {
      if ([...ch].length !== 1) {
        throw new Error(
          `CharTokenizer.fromAlphabet: alphabet[${i}] = ${JSON.stringify(ch)} must be one character`,
        );
      }
    });
    const specials = [
      options.padToken ?? '<pad>',
      options.eosToken ?? '<eos>',
      ...(options.unkToken === undefined ? [] : [options.unkToken]),
      ...(options.atomicTokens ?? []),
    ];
    const seen = new Set<string>();
    for (const s of specials) {
      if (s.length === 0)
        throw new Error('CharTokenizer.fromAlphabet: special and atomic tokens must be non-empty');
      if (seen.has(s))
        throw new Error(`CharTokenizer.fromAlphabet: token ${JSON.stringify(s)} is given twice`);
      seen.add(s);
    }
    const charVocab = [...new Set(chars)]
      .filter((c) => !seen.has(c))
      .sort((a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number));
    return new CharTokenizer({
      type: 'covrl-char-tokenizer',
      version: 1,
      vocab: [...specials, ...charVocab],
      padToken: options.padToken ?? '<pad>',
      eosToken: options.eosToken ?? '<eos>',
      unkToken: options.unkToken ?? null,
      atomicTokens: specials,
    });
  }

  /** Build from the characters that occur in `texts` (see {@link CharTokenizer.fromAlphabet}). */
  static fromCorpus(texts: Iterable<string>, options: CharTokenizerOptions = {}): CharTokenizer {
    const chars = new Set<string>();
    for (const text of texts) for (const ch of text) chars.add(ch);
    return CharTokenizer.fromAlphabet([...chars], options);
  }

  /**
   * Rebuild from {@link CharTokenizer.toJSON} output.
   * @throws Error naming the field that is missing or malformed.
   */
  static fromJSON(json: unknown): CharTokenizer {
    const fail = (why: string): never => {
      throw new Error(`CharTokenizer.fromJSON: ${why}`);
    };
    if (typeof json !== 'object' || json === null) return fail('expected an object');
    const o = json as Record<string, unknown>;
    if (o['type'] !== 'covrl-char-tokenizer')
      fail(`type must be 'covrl-char-tokenizer', got ${JSON.stringify(o['type'])}`);
    if (o['version'] !== 1)
      fail(`unsupported version ${JSON.stringify(o['version'])}; this reader knows version 1`);
    const strings = (field: string): string[] => {
      const v = o[field];
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
        return fail(`${field} must be an array of strings`);
      return v as string[];
    };
    const str = (field: string): string => {
      const v = o[field];
      return typeof v === 'string' ? v : fail(`${field} must be a string`);
    };
    const unk = o['unkToken'];
    if (unk !== null && typeof unk !== 'string') fail('unkToken must be a string or null');
    return new CharTokenizer({
      type: 'covrl-char-tokenizer',
      version: 1,
      vocab: strings('vocab'),
      padToken: str('padToken'),
      eosToken: str('eosToken'),
      unkToken: unk as string | null,
      atomicTokens: strings('atomicTokens'),
    });
  }

  /** The JSON form (stable field order; round-trips through {@link CharTokenizer.fromJSON}). */
  toJSON(): CharTokenizerJson {
    return {
      type: 'covrl-char-tokenizer',
      version: 1,
      vocab: [...this.vocab],
      padToken: this.padToken,
      eosToken: this.eosToken,
      unkToken: this.unkToken ?? null,
      atomicTokens: [...this.atomicTokens],
    };
  }

  /**
   * The same tokenizer as a Hugging Face `tokenizer.json` object, for interoperability (the
   * `tokenizers` library, transformers, {@link HfTokenizer}): a BPE model with no merges and no
   * pre-tokenizer (so it splits text into code points), every atomic token registered as an added
   * token (pad, eos and unk as special), and a `Fuse` decoder that concatenates tokens.
   * Encodings agree with {@link CharTokenizer.encode} on every text without unknown characters;
   * with no `unkToken`, HF tokenizers silently drop unknown characters instead of throwing.
   */
  toHfTokenizerJson(): Record<string, unknown> {
    const specials = new Set([
      this.padToken,
      this.eosToken,
      ...(this.unkToken === undefined ? [] : [this.unkToken]),
    ]);
    const vocab: Record<string, number> = {};
    this.vocab.forEach((token, id) => {
      vocab[token] = id;
    });
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.atomicTokens.map((content) => ({
        id: this.#ids.get(content),
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: specials.has(content),
      })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: this.unkToken ?? null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    };
  }

  /** The `tokenizer_config.json` object matching {@link CharTokenizer.toHfTokenizerJson}. */
  toHfTokenizerConfig(): Record<string, unknown> {
    return {
      eos_token: this.eosToken,
      pad_token: this.padToken,
      ...(this.unkToken === undefined ? {} : { unk_token: this.unkToken }),
      clean_up_tokenization_spaces: false,
    };
  }

  /** Id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  /** Token string of an id, or undefined when out of range. */
  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  /** Encode `text` (no special tokens added). @throws Error naming an unknown character and its index. */
  encode(text: string): number[] {
    return this.encodeWithOffsets(text).ids;
  }

  /**
   * Encode with `[start, end)` UTF-16 offsets of every token in `text`; the offsets tile the text.
   * @throws Error naming an unknown character and its index when no `unkToken` is configured.
   */
  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] } {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    let i = 0;
    while (i < text.length) {
      const candidates = this.#atomicByFirst.get(text[i] as string);
      const atomic = candidates?.find((t) => text.startsWith(t, i));
      if (atomic !== undefined) {
        ids.push(this.#ids.get(atomic) as number);
        offsets.push([i, i + atomic.length]);
        i += atomic.length;
        continue;
      }
      const ch = String.fromCodePoint(text.codePointAt(i) as number);
      const id = this.#ids.get(ch) ?? this.unkId;
      if (id === undefined) {
        throw new Error(
          `CharTokenizer.encode: character ${JSON.stringify(ch)} (U+${(ch.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}) at index ${i} is not in the vocabulary; build the tokenizer from a corpus containing it or set unkToken`,
        );
      }
      ids.push(id);
      offsets.push([i, i + ch.length]);
      i += ch.length;
    }
    return { ids, offsets };
  }

  /** Concatenate the token strings (special tokens kept verbatim). @throws Error naming a bad id and its position. */
  decode(ids: readonly number[]): string {
    let out = '';
    ids.forEach((id, position) => {
      const token = this.vocab[id];
      if (token === undefined) {
        throw new Error(
          `CharTokenizer.decode: id ${id} at position ${position} is outside [0, ${this.vocabSize})`,
        );
      }
      out += token;
    });
    return out;
  }
}
