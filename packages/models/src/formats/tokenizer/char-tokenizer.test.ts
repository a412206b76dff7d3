import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CharTokenizer } from './char-tokenizer.js';
import { readCharTokenizer, writeCharTokenizer } from './char-tokenizer-file.js';

const TAGS = ['<think>', '</think>', '<answer>', '</answer>'];
const corpus = ['Question: What is 7*6?\n<think>7 sixes: 42.</think>\n<answer>42</answer>'];

describe('CharTokenizer', () => {
  const tok = CharTokenizer.fromCorpus(corpus, { atomicTokens: TAGS });

  it('orders ids as pad, eos, atomic tokens, then characters by code point', () => {
    expect(tok.padId).toBe(0);
    expect(tok.eosId).toBe(1);
    expect(tok.vocab.slice(0, 6)).toEqual(['<pad>', '<eos>', ...TAGS]);
    const chars = tok.vocab.slice(6);
    expect(chars).toEqual(
      [...new Set(corpus[0])].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0)),
    );
    expect(tok.vocabSize).toBe(6 + chars.length);
    expect(tok.unkId).toBeUndefined();
  });

  it('encodes each tag as ONE token and everything else per character', () => {
    const ids = tok.encode('4<think>2</think>');
    expect(ids).toEqual([tok.tokenToId('4'), 2, tok.tokenToId('2'), 3]);
    expect(tok.decode(ids)).toBe('4<think>2</think>');
    // Specials in text are matched too, so decode/encode is an exact round trip on ids.
    expect(tok.encode('<eos><pad>')).toEqual([1, 0]);
  });

  it('prefers the longest atomic token at a position', () => {
    const t = CharTokenizer.fromAlphabet('<>thinkab/', { atomicTokens: ['<t', '<think>', 'ab'] });
    expect(t.encode('<think><tab').map((id) => t.idToToken(id))).toEqual(['<think>', '<t', 'ab']);
  });

  it('decode(encode(s)) = s and encodeWithOffsets tiles the text (property)', () => {
    const alphabet = [...new Set(corpus[0])];
    const piece = fc.oneof(
      fc.constantFrom(...alphabet),
      fc.constantFrom(...TAGS, '<eos>', '<pad>'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join('');
        const { ids, offsets } = tok.encodeWithOffsets(text);
        expect(tok.decode(ids)).toBe(text);
        expect(tok.encode(tok.decode(ids))).toEqual(ids);
        let cursor = 0;
        offsets.forEach(([s, e], i) => {
          expect(s).toBe(cursor);
          expect(text.slice(s, e)).toBe(tok.idToToken(ids[i] as number));
          cursor = e;
        });
        expect(cursor).toBe(text.length);
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('piecewise encodings at tag boundaries equal the whole-string encoding (method spec §2)', () => {
    const pieces = [
      'Question: What is 7*6?\n<think>',
      '7 sixes: 42.</think>',
      '\n<answer>',
      '42',
      '</answer>',
    ];
    const piecewise = pieces.flatMap((p) => tok.encode(p));
    expect(piecewise).toEqual(tok.encode(pieces.join('')));
    expect(tok.decode(piecewise)).toBe(pieces.join(''));
  });

  it('names an unknown character and its index, or maps it to <unk> when configured', () => {
    expect(() => tok.encode('42 + 1')).toThrow(
      'CharTokenizer.encode: character "+" (U+002B) at index 3 is not in the vocabulary',
    );
    const withUnk = CharTokenizer.fromCorpus(corpus, { atomicTokens: TAGS, unkToken: '<unk>' });
    expect(withUnk.unkId).toBe(2);
    expect(withUnk.encode('4+2')).toEqual([withUnk.tokenToId('4'), 2, withUnk.tokenToId('2')]);
    expect(withUnk.decode(withUnk.encode('4+2'))).toBe('4<unk>2');
  });

  it('treats astral characters as one token with a two-unit offset', () => {
    const t = CharTokenizer.fromAlphabet('a🙂');
    expect(t.encodeWithOffsets('a🙂a')).toEqual({
      ids: [t.tokenToId('a'), t.tokenToId('🙂'), t.tokenToId('a')],
      offsets: [
        [0, 1],
        [1, 3],
        [3, 4],
      ],
    });
  });

  it('names an id outside the vocabulary when decoding', () => {
    expect(() => tok.decode([1, 999])).toThrow(/id 999 at position 1 is outside \[0, \d+\)/);
  });

  it('rejects repeated or empty special tokens and multi-character alphabet entries', () => {
    expect(() => CharTokenizer.fromAlphabet('ab', { atomicTokens: ['<eos>'] })).toThrow(
      /"<eos>" is given twice/,
    );
    expect(() => CharTokenizer.fromAlphabet('ab', { atomicTokens: [''] })).toThrow(/non-empty/);
    expect(() => CharTokenizer.fromAlphabet(['ab'])).toThrow(
      /alphabet\[0\] = "ab" must be one character/,
    );
  });

  it('round-trips through JSON and covrl-char-tokenizer.json', async () => {
    const withUnk = CharTokenizer.fromCorpus(corpus, {
      atomicTokens: TAGS,
      unkToken: '<unk>',
      eosToken: '</s>',
    });
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(withUnk)));
    expect(back.toJSON()).toEqual(withUnk.toJSON());
    expect(back.eosId).toBe(withUnk.eosId);
    expect(back.encode(corpus[0] as string)).toEqual(withUnk.encode(corpus[0] as string));
    const dir = await mkdtemp(join(tmpdir(), 'covrl-char-tok-'));
    try {
      const path = join(dir, 'covrl-char-tokenizer.json');
      await writeCharTokenizer(withUnk, path);
      expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
        type: 'covrl-char-tokenizer',
        version: 1,
      });
      expect((await readCharTokenizer(path)).toJSON()).toEqual(withUnk.toJSON());
      await expect(readCharTokenizer(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fromJSON names the malformed field', () => {
    const good = tok.toJSON();
    expect(() => CharTokenizer.fromJSON({ ...good, type: 'bpe' })).toThrow(
      /type must be 'covrl-char-tokenizer'/,
    );
    expect(() => CharTokenizer.fromJSON({ ...good, version: 2 })).toThrow(/unsupported version 2/);
    expect(() => CharTokenizer.fromJSON({ ...good, vocab: [1] })).toThrow(
      /vocab must be an array of strings/,
    );
    expect(() => CharTokenizer.fromJSON({ ...good, vocab: [...good.vocab, 'xy'] })).toThrow(
      /"xy" has several characters but is not an atomic token/,
    );
    expect(() => CharTokenizer.fromJSON({ ...good, eosToken: '<end>' })).toThrow(
      /eosToken "<end>" is not in the vocabulary/,
    );
  });
});

describe('CharTokenizer.toHfTokenizerJson', () => {
  it('gives an HF tokenizer with the same ids, offsets and EOS (property, pure JS and native)', async () => {
    const { HfTokenizer } = await import('./hf-tokenizer.js');
    const char = CharTokenizer.fromCorpus([...corpus, 'é🙂'], { atomicTokens: [...TAGS, '<t'] });
    const hf = HfTokenizer.fromJSON(char.toHfTokenizerJson(), {
      tokenizerConfig: char.toHfTokenizerConfig(),
    });
    expect(hf.vocabSize).toBe(char.vocabSize);
    expect(hf.eosId).toBe(char.eosId);
    const native = await hf.native();
    const alphabet = [...new Set([...(corpus[0] as string), 'é', '🙂'])];
    const texts = fc.sample(
      fc.array(fc.oneof(fc.constantFrom(...alphabet), fc.constantFrom(...TAGS, '<eos>', '<t')), {
        maxLength: 25,
      }),
      { numRuns: 60, seed: 4 },
    );
    for (const pieces of texts) {
      const text = pieces.join('');
      expect(hf.encodeWithOffsets(text)).toEqual(char.encodeWithOffsets(text));
      expect(hf.decode(char.encode(text))).toBe(text);
      if (native !== undefined)
        expect(await native.encodeWithOffsets(text)).toEqual(char.encodeWithOffsets(text));
    }
  });
});
