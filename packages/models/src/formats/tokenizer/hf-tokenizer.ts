/**
 * Hugging Face `tokenizer.json` tokenizers behind the sampler's synchronous {@link Tokenizer}
 * interface, on the pure-JS `@huggingface/tokenizers`. The native `tokenizers` binding (an
 * optional dependency) only has asynchronous `encode`/`decode`, so it cannot back the synchronous
 * interface; {@link HfTokenizer.native} exposes it for callers that want its offsets or a
 * cross-check.
 *
 * @packageDocumentation
 */
import type { Tokenizer } from '@covrl/sampler';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';

/** File name of a Hugging Face tokenizer inside a model directory. */
export const HF_TOKENIZER_FILE = 'tokenizer.json';
/** File name of its companion config (`eos_token`, `pad_token`, ...). */
export const HF_TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** Token names tried, in order, for the EOS id when neither the options nor the config name one. */
export const EOS_TOKEN_CANDIDATES = Object.freeze([
  '<|endoftext|>',
  '</s>',
  '<|im_end|>',
  '<eos>',
  '<|eos|>',
]);

/** Options of {@link HfTokenizer.fromJSON} and of `readHfTokenizer` (`@covrl/models/node`). */
export interface HfTokenizerOptions {
  /** EOS token string; overrides `tokenizer_config.json`'s `eos_token`. */
  readonly eosToken?: string;
}

/** The native binding wrapped with this package's conventions (offsets in UTF-16 units). */
export interface NativeHfTokenizer {
  encode(text: string): Promise<number[]>;
  decode(ids: readonly number[]): Promise<string>;
  encodeWithOffsets(text: string): Promise<{ ids: number[]; offsets: [number, number][] }>;
}

/** The part of the optional native `tokenizers` module this package uses. */
export interface NativeTokenizersModule {
  Tokenizer: {
    fromString(json: string): {
      encode(
        text: string,
        pair: null,
        options: { addSpecialTokens: boolean },
      ): Promise<{ getIds(): number[]; getOffsets(): number[][] }>;
      decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
    };
  };
}

let nativeModule: Promise<NativeTokenizersModule | undefined> | undefined;

/**
 * The optional native `tokenizers` module, or undefined when it is not installed or its binary
 * does not load on this platform. Loaded once, by dynamic import (a variable specifier keeps
 * bundlers and the type checker from requiring it).
 */
export function loadNativeTokenizers(): Promise<NativeTokenizersModule | undefined> {
  const specifier = 'tokenizers';
  nativeModule ??= import(specifier).then(
    (m: unknown) => {
      const mod = m as Partial<NativeTokenizersModule> & {
        default?: Partial<NativeTokenizersModule>;
      };
      const Tok = mod.Tokenizer ?? mod.default?.Tokenizer;
      return Tok === undefined ? undefined : { Tokenizer: Tok };
    },
    () => undefined,
  );
  return nativeModule;
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const content = (value as Record<string, unknown>)['content'];
    if (typeof content === 'string') return content;
  }
  return undefined;
}

/** Code-point offsets (as the native binding reports them) → UTF-16 offsets into `text`. */
function codePointToUtf16(text: string): number[] {
  const map: number[] = [];
  let unit = 0;
  for (const ch of text) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return map;
}

/** Unicode normalization forms that `String.prototype.normalize` implements. */
type UnicodeForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/**
 * The Unicode form of a `tokenizer.json` normalizer that is exactly one of NFC, NFD, NFKC, NFKD
 * (alone or as the only member of a `Sequence`), else undefined.
 */
function unicodeFormOf(normalizer: unknown): UnicodeForm | undefined {
  if (typeof normalizer !== 'object' || normalizer === null) return undefined;
  const { type, normalizers } = normalizer as { type?: unknown; normalizers?: unknown };
  if (type === 'NFC' || type === 'NFD' || type === 'NFKC' || type === 'NFKD') return type;
  if (type === 'Sequence' && Array.isArray(normalizers) && normalizers.length === 1) {
    return unicodeFormOf(normalizers[0]);
  }
  return undefined;
}

/** True when `decoder` is a ByteLevel decoder, alone or inside a `Sequence`. */
function isByteLevelDecoder(decoder: unknown): boolean {
  if (typeof decoder !== 'object' || decoder === null) return false;
  const { type, decoders } = decoder as { type?: unknown; decoders?: unknown };
  if (type === 'ByteLevel') return true;
  return type === 'Sequence' && Array.isArray(decoders) && decoders.some(isByteLevelDecoder);
}

/** UTF-8 length in bytes of a string. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** One piece of a text normalized on its own: `[start, end)` in the text, `[nStart, nEnd)` after. */
interface NormalizedSegment {
  readonly start: number;
  readonly end: number;
  readonly nStart: number;
  readonly nEnd: number;
  /** Length of the common prefix and suffix of the piece and its normalization (UTF-16 units). */
  readonly same: number;
  readonly sameEnd: number;
}

/**
 * Cuts `text` before every ASCII character and normalizes each piece on its own. An ASCII
 * character is a starter that never composes with what precedes it and that no form changes, so
 * the normalized pieces concatenate to `text.normalize(form)` (checked by the caller against the
 * tokenizer's own output). Linear in the text length.
 */
function normalizeBySegments(
  text: string,
  form: UnicodeForm,
): { normalized: string; segments: NormalizedSegment[] } {
  const segments: NormalizedSegment[] = [];
  let normalized = '';
  let start = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) >= 0x80) continue;
    const piece = text.slice(start, i);
    const norm = piece.normalize(form);
    let same = 0;
    while (same < piece.length && same < norm.length && piece[same] === norm[same]) same++;
    let sameEnd = 0;
    while (
      sameEnd < piece.length - same &&
      sameEnd < norm.length - same &&
      piece[piece.length - 1 - sameEnd] === norm[norm.length - 1 - sameEnd]
    ) {
      sameEnd++;
    }
    segments.push({
      start,
      end: i,
      nStart: normalized.length,
      nEnd: normalized.length + norm.length,
      same,
      sameEnd,
    });
    normalized += norm;
    start = i;
  }
  return { normalized, segments };
}

/**
 * Maps a position in the normalized text back to the original text: exact inside the unchanged
 * prefix and suffix of its segment; inside the changed middle, a start goes to the middle's start
 * and an end to its end (the token then covers every original unit that produced it).
 */
function originalPosition(
  segments: readonly NormalizedSegment[],
  position: number,
  side: 'start' | 'end',
): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((segments[mid] as NormalizedSegment).nEnd <= position) lo = mid + 1;
    else hi = mid;
  }
  const seg = segments[lo];
  if (seg === undefined) return position;
  const q = position - seg.nStart;
  const nLength = seg.nEnd - seg.nStart;
  if (q <= seg.same) return seg.start + q;
  if (q >= nLength - seg.sameEnd) return seg.end - (nLength - q);
  return side === 'start' ? seg.start + seg.same : seg.end - seg.sameEnd;
}

/**
 * A `tokenizer.json` tokenizer (BPE, WordPiece, Unigram, WordLevel models with their normalizers,
 * pre-tokenizers and decoders, as `@huggingface/tokenizers` supports them).
 *
 * - `encode` never adds special tokens (no BOS/EOS from the post-processor); added tokens, such
 *   as tag strings registered in `added_tokens`, are matched atomically before the model runs.
 * - `decode` keeps special tokens and does not clean up spaces, so it inverts `encode` for
 *   byte-level tokenizers.
 * - `vocabSize` is the largest id (model vocabulary or added token) plus one.
 * - `eosId`: the `eosToken` option, else `tokenizer_config.json`'s `eos_token`, else the first of
 *   {@link EOS_TOKEN_CANDIDATES} in the vocabulary, else undefined.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId?: number;
  /** The EOS token string whose id is `eosId`. */
  readonly eosToken?: string;
  readonly #tokenizer: JsTokenizer;
  readonly #json: unknown;
  readonly #config: unknown;
  /** The normalizer's Unicode form when it is only that (offsets are mapped back through it). */
  readonly #unicodeForm: UnicodeForm | undefined;
  /**
   * For byte-level BPE: the content of every added token by id (their byte length is their
   * content's UTF-8 length; a model token's is its character count, one byte per character).
   */
  readonly #byteLevelAdded: ReadonlyMap<number, string> | undefined;
  #native: Promise<NativeHfTokenizer | undefined> | undefined;

  private constructor(json: unknown, config: unknown, options: HfTokenizerOptions, where: string) {
    if (
      typeof json !== 'object' ||
      json === null ||
      typeof (json as Record<string, unknown>)['model'] !== 'object'
    ) {
      throw new Error(`HfTokenizer: ${where}: not a tokenizer.json object (no 'model' field)`);
    }
    // @huggingface/tokenizers requires these keys to exist; the Rust library treats absent as null.
    const completed = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...(json as Record<string, unknown>),
    };
    try {
      this.#tokenizer = new JsTokenizer(completed, (config ?? {}) as object);
    } catch (error) {
      throw new Error(
        `HfTokenizer: ${where}: @huggingface/tokenizers cannot load it: ${(error as Error).message}`,
      );
    }
    this.#json = json;
    this.#config = config;
    this.#unicodeForm = unicodeFormOf(completed.normalizer);
    const model = (completed as Record<string, unknown>)['model'] as { type?: unknown };
    if (model.type === 'BPE' && isByteLevelDecoder(completed.decoder)) {
      const added = new Map<number, string>();
      for (const token of Array.isArray(completed.added_tokens) ? completed.added_tokens : []) {
        const { id, content } = token as { id?: unknown; content?: unknown };
        if (typeof id === 'number' && typeof content === 'string') added.set(id, content);
      }
      this.#byteLevelAdded = added;
    }
    let maxId = -1;
    for (const id of this.#tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const configured =
      options.eosToken ??
      tokenContent(
        typeof config === 'object' && config !== null
          ? (config as Record<string, unknown>)['eos_token']
          : undefined,
      );
    if (configured !== undefined) {
      const id = this.#tokenizer.token_to_id(configured);
      if (id === undefined) {
        throw new Error(
          `HfTokenizer: ${where}: eos token ${JSON.stringify(configured)} is not in the vocabulary`,
        );
      }
      this.eosId = id;
      this.eosToken = configured;
    } else {
      for (const candidate of EOS_TOKEN_CANDIDATES) {
        const id = this.#tokenizer.token_to_id(candidate);
        if (id !== undefined) {
          this.eosId = id;
          this.eosToken = candidate;
          break;
        }
      }
    }
  }

  /**
   * Build from a parsed `tokenizer.json` object and, optionally, `tokenizer_config.json`.
   * @throws Error when the object is not a tokenizer.json or the EOS token is unknown.
   */
  static fromJSON(
    tokenizerJson: unknown,
    options: HfTokenizerOptions & {
      readonly tokenizerConfig?: unknown;
      readonly file?: string;
    } = {},
  ): HfTokenizer {
    return new HfTokenizer(
      tokenizerJson,
      options.tokenizerConfig,
      options,
      options.file ?? '<object>',
    );
  }

  /** The `tokenizer.json` object this tokenizer was built from. */
  toJSON(): unknown {
    return this.#json;
  }

  /** The `tokenizer_config.json` object, when one was given. */
  get tokenizerConfig(): unknown {
    return this.#config;
  }

  /** Id of a token string (model vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }

  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.#tokenizer.id_to_token(id);
  }

  /** Encode without special tokens. */
  encode(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Decode, keeping special tokens verbatim and without space clean-up. */
  decode(ids: readonly number[]): string {
    // @huggingface/tokenizers throws on an empty id list; the empty sequence decodes to ''.
    if (ids.length === 0) return '';
    return this.#tokenizer.decode([...ids], {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: false,
    });
  }

  /**
   * Encode with `[start, end)` UTF-16 offsets of every token in `text`, derived by decoding
   * (the pure-JS library reports no offsets):
   *
   * 1. Byte-level BPE (GPT-2, Llama 3, Qwen): each token's bytes are known from its vocabulary
   *    string (one character per byte) or its added-token content, so a token spans the
   *    characters holding its first and last byte, exactly as the native binding reports it.
   *    Other tokenizers:
   * 2. Tokens are grouped greedily: a group is the shortest run of tokens whose joint decode is
   *    the next piece of `text` and does not end inside a character (a byte-level token holding
   *    part of a UTF-8 character decodes to U+FFFD, so it joins the next token's group). A single
   *    token's span is its piece; in a longer group every token but the last spans the group's
   *    first character and the last spans the whole group.
   * 3. If grouping fails (decoders that depend on the token's position, like Metaspace), prefix
   *    decoding is used: the end of token i is the length of `decode(ids[0..i])`'s common
   *    prefix with `text` (quadratic in the token count).
   * 4. When the tokenizer's normalizer is exactly a Unicode form (Qwen2/Qwen3 use NFC) and `text`
   *    is not in that form (`'e\u0301'`, decomposed), offsets are computed on the normalized text
   *    and mapped back: the text is cut before every ASCII character (a starter no form changes or
   *    composes with), each piece normalized on its own; positions in a piece's unchanged prefix
   *    and suffix map exactly, a token inside the changed middle spans all of it, so every token
   *    overlaps all the original characters it came from (what offset-based selection needs).
   *    The native binding's spans can be narrower (it maps `é` from `e\u0301` to the `e` alone)
   *    but always lie inside these.
   *
   * @throws Error when `decode(encode(text))` is neither `text` nor its normalization by the
   *   tokenizer's Unicode form (another normalizer, such as Lowercase, changed the text, so offsets
   *   into it are undefined); use {@link HfTokenizer.native} then.
   */
  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] } {
    const ids = this.encode(text);
    const full = this.decode(ids);
    if (full === text) {
      return { ids, offsets: this.#offsetsOn(ids, text) };
    }
    const form = this.#unicodeForm;
    if (form !== undefined) {
      const { normalized, segments } = normalizeBySegments(text, form);
      if (normalized === full) {
        const offsets = this.#offsetsOn(ids, full);
        return {
          ids,
          offsets: offsets.map(([start, end]): [number, number] => [
            originalPosition(segments, start, 'start'),
            originalPosition(segments, end, 'end'),
          ]),
        };
      }
    }
    throw new Error(
      `HfTokenizer.encodeWithOffsets: decode(encode(text)) differs from text (${JSON.stringify(full.slice(0, 40))} vs ${JSON.stringify(text.slice(0, 40))}) and from its Unicode normalization; this tokenizer's normalizer rewrites text, so use (await tokenizer.native())?.encodeWithOffsets`,
    );
  }

  /** Offsets of `ids` in `text`, which `ids` decode to exactly: byte rule, grouping, prefixes. */
  #offsetsOn(ids: readonly number[], text: string): [number, number][] {
    return (
      this.#byteOffsets(ids, text) ??
      this.#groupOffsets(ids, text) ??
      this.#prefixOffsets(ids, text)
    );
  }

  /**
   * Byte-level BPE: every token covers a run of the text's UTF-8 bytes `[b0, b1)`; its span is
   * from the start of the character holding byte `b0` to the end of the character holding byte
   * `b1 − 1` (the rule of the native binding, so a token holding a space and the first byte of
   * `龘` spans both characters and the following byte tokens span `龘`). Undefined when the token
   * byte lengths do not add up to the text's (not a byte-level vocabulary after all).
   */
  #byteOffsets(ids: readonly number[], text: string): [number, number][] | undefined {
    const added = this.#byteLevelAdded;
    if (added === undefined) return undefined;
    const lengths: number[] = [];
    for (const id of ids) {
      const content = added.get(id);
      if (content !== undefined) {
        lengths.push(utf8Length(content));
        continue;
      }
      const token = this.#tokenizer.id_to_token(id);
      if (token === undefined) return undefined;
      lengths.push([...token].length);
    }
    // Per byte of the text, the UTF-16 start and end of the character that holds it.
    const charStart: number[] = [];
    const charEnd: number[] = [];
    let unit = 0;
    for (const ch of text) {
      const bytes = utf8Length(ch);
      for (let k = 0; k < bytes; k++) {
        charStart.push(unit);
        charEnd.push(unit + ch.length);
      }
      unit += ch.length;
    }
    if (lengths.reduce((a, b) => a + b, 0) !== charStart.length) return undefined;
    const offsets: [number, number][] = [];
    let byte = 0;
    for (const length of lengths) {
      if (length === 0) {
        const at = charStart[byte] ?? text.length;
        offsets.push([at, at]);
        continue;
      }
      offsets.push([charStart[byte] as number, charEnd[byte + length - 1] as number]);
      byte += length;
    }
    return offsets;
  }

  #groupOffsets(ids: readonly number[], text: string): [number, number][] | undefined {
    const offsets: [number, number][] = [];
    let pos = 0;
    let i = 0;
    while (i < ids.length) {
      let accepted: { end: number; piece: string } | undefined;
      for (let j = i; j < ids.length && j < i + 8; j++) {
        const piece = this.decode(ids.slice(i, j + 1));
        const partial = piece.endsWith('\uFFFD') && text[pos + piece.length - 1] !== '\uFFFD';
        if (!partial && text.startsWith(piece, pos)) {
          accepted = { end: j, piece };
          break;
        }
      }
      if (accepted === undefined) return undefined;
      const end = pos + accepted.piece.length;
      const firstChar = String.fromCodePoint(text.codePointAt(pos) ?? 0).length;
      for (let k = i; k < accepted.end; k++) offsets.push([pos, Math.min(pos + firstChar, end)]);
      offsets.push([pos, end]);
      pos = end;
      i = accepted.end + 1;
    }
    return pos === text.length ? offsets : undefined;
  }

  #prefixOffsets(ids: readonly number[], text: string): [number, number][] {
    const offsets: [number, number][] = [];
    let prev = 0;
    for (let i = 0; i < ids.length; i++) {
      const prefix = this.decode(ids.slice(0, i + 1));
      let lcp = 0;
      while (lcp < prefix.length && lcp < text.length && prefix[lcp] === text[lcp]) lcp++;
      const end = Math.max(prev, lcp);
      offsets.push([prev, end]);
      prev = end;
    }
    return offsets;
  }

  /**
   * The same tokenizer on the native `tokenizers` binding (asynchronous; offsets converted from
   * code points to UTF-16 units), or undefined when the optional dependency is unavailable.
   */
  native(): Promise<NativeHfTokenizer | undefined> {
    this.#native ??= loadNativeTokenizers().then((mod) => {
      if (mod === undefined) return undefined;
      const tok = mod.Tokenizer.fromString(JSON.stringify(this.#json));
      const encodeWithOffsets = async (
        text: string,
      ): Promise<{ ids: number[]; offsets: [number, number][] }> => {
        const enc = await tok.encode(text, null, { addSpecialTokens: false });
        const map = codePointToUtf16(text);
        const offsets = enc
          .getOffsets()
          .map(([s, e]): [number, number] => [map[s ?? 0] ?? 0, map[e ?? 0] ?? 0]);
        return { ids: [...enc.getIds()], offsets };
      };
      return {
        encodeWithOffsets,
        encode: async (text: string) => (await encodeWithOffsets(text)).ids,
        decode: (ids: readonly number[]) => tok.decode([...ids], false),
      };
    });
    return this.#native;
  }
}
