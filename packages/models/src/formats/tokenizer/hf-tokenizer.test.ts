import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteLevelAlphabet, tinyByteLevelBpeJson } from '../testing.js';
import { HfTokenizer, loadNativeTokenizers } from './hf-tokenizer.js';
import { readHfTokenizer, writeHfTokenizer } from './hf-tokenizer-file.js';

const TAGS = ['<think>', '</think>', '<answer>', '</answer>'];
const json = tinyByteLevelBpeJson();
const tok = HfTokenizer.fromJSON(json);
const id = (token: string): number => {
  const v = tok.tokenToId(token);
  if (v === undefined) throw new Error(`no token ${token}`);
  return v;
};

describe('HfTokenizer on a hand-built byte-level BPE tokenizer.json', () => {
  it('has the expected vocabulary size and EOS id', () => {
    // 1 special + 256 bytes + 10 merges + 4 tags.
    expect(tok.vocabSize).toBe(271);
    expect(tok.eosId).toBe(0);
    expect(tok.eosToken).toBe('<|endoftext|>');
    expect(HfTokenizer.fromJSON(json, { eosToken: '</answer>' }).eosId).toBe(270);
    expect(
      HfTokenizer.fromJSON(json, { tokenizerConfig: { eos_token: { content: '<think>' } } }).eosId,
    ).toBe(267);
    expect(() => HfTokenizer.fromJSON(json, { eosToken: '</s>' })).toThrow(
      /eos token "<\/s>" is not in the vocabulary/,
    );
    const noEos = HfTokenizer.fromJSON(tinyByteLevelBpeJson({ eosToken: '<|pad|>' }));
    expect(noEos.eosId).toBeUndefined();
  });

  it('applies merges by rank (hand-computed) and adds no special tokens', () => {
    // "the" merges t+h → th, th+e → the; " think" splits at the ByteLevel regex into "Ġthink"
    // whose merges are t+h, i+n, in+k, th+ink, then Ġ+t is impossible (t already merged).
    expect(tok.encode('the think')).toEqual([id('the'), id('Ġ'), id('think')]);
    // " the": t+h, th+e, then Ġ+the (rank 4) → one token.
    expect(tok.encode(' the')).toEqual([id('Ġthe')]);
    expect(tok.encode('an answer')).toEqual([
      id('an'),
      id('Ġa'),
      id('n'),
      id('s'),
      id('w'),
      id('er'),
    ]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
    expect(tok.encodeWithOffsets('')).toEqual({ ids: [], offsets: [] });
  });

  it('encodes registered tags as ONE token wherever they occur', () => {
    for (const tag of TAGS) expect(tok.encode(tag)).toEqual([id(tag)]);
    expect(tok.encode('x</think>\n<answer>42</answer>')).toEqual([
      id('x'),
      id('</think>'),
      id('Ċ'),
      id('<answer>'),
      id('4'),
      id('2'),
      id('</answer>'),
    ]);
    expect(tok.encode('<|endoftext|>')).toEqual([0]);
  });

  it('decodes multi-byte UTF-8 and keeps special tokens verbatim', () => {
    const text = 'héllo wörld 🙂<|endoftext|>';
    expect(tok.decode(tok.encode(text))).toBe(text);
    const alphabet = byteLevelAlphabet();
    expect(tok.encode('é')).toEqual([id(alphabet[0xc3] as string), id(alphabet[0xa9] as string)]);
  });

  it('enc(a) ‖ enc(b) decodes to a + b, and equals enc(a + b) when the boundary is at a tag (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom(...TAGS),
      fc.string({
        unit: fc.constantFrom(
          't',
          'h',
          'e',
          'i',
          'n',
          'k',
          ' ',
          '\n',
          '<',
          '>',
          '/',
          '4',
          'é',
          '🙂',
        ),
      }),
    );
    fc.assert(
      fc.property(piece, piece, fc.constantFrom(...TAGS), (a, b, tag) => {
        expect(tok.decode([...tok.encode(a), ...tok.encode(b)])).toBe(a + b);
        expect([...tok.encode(a + tag), ...tok.encode(b)]).toEqual(tok.encode(a + tag + b));
        expect([...tok.encode(a), ...tok.encode(tag + b)]).toEqual(tok.encode(a + tag + b));
      }),
      { numRuns: 150, seed: 9 },
    );
  });

  it('encodeWithOffsets gives spans that tile the text and match each token', () => {
    const text = 'the think<think>then é🙂</think>';
    const { ids, offsets } = tok.encodeWithOffsets(text);
    expect(ids).toEqual(tok.encode(text));
    expect(offsets.slice(0, 4)).toEqual([
      [0, 3],
      [3, 4],
      [4, 9],
      [9, 16],
    ]);
    // é is two byte tokens: both span the character, as the native binding reports it.
    const eAt = text.indexOf('é');
    const eTokens = offsets.filter(([s]) => s === eAt);
    expect(eTokens).toEqual([
      [eAt, eAt + 1],
      [eAt, eAt + 1],
    ]);
    // 🙂 is four byte tokens: the first three span its first UTF-16 unit... of the character.
    const smile = text.indexOf('🙂');
    expect(offsets.filter(([s]) => s === smile).at(-1)).toEqual([smile, smile + 2]);
    expect(offsets.at(-1)).toEqual([text.length - '</think>'.length, text.length]);
    for (let i = 1; i < offsets.length; i++) {
      expect((offsets[i] as [number, number])[0]).toBeGreaterThanOrEqual(
        (offsets[i - 1] as [number, number])[0],
      );
    }
  });

  it('encodeWithOffsets falls back to prefix decoding and refuses text it cannot reproduce', () => {
    const lowercasing = HfTokenizer.fromJSON({ ...json, normalizer: { type: 'Lowercase' } });
    expect(() => lowercasing.encodeWithOffsets('THE')).toThrow(
      /decode\(encode\(text\)\) differs from text/,
    );
    // A Metaspace tokenizer decodes its first token differently, so grouping fails; the prefix
    // method still returns spans that tile the text. (No post_processor key: absent means null.)
    const vocab: Record<string, number> = { '<unk>': 0, '▁': 1, a: 2, b: 3, '▁a': 4, '▁b': 5 };
    const metaspace = HfTokenizer.fromJSON({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
      model: { type: 'BPE', vocab, merges: ['▁ a', '▁ b'], unk_token: '<unk>', dropout: null },
    });
    const text = 'a b ab';
    const { ids, offsets } = metaspace.encodeWithOffsets(text);
    expect(metaspace.decode(ids)).toBe(text);
    expect(offsets[0]).toEqual([0, 1]);
    expect(offsets.at(-1)?.[1]).toBe(text.length);
  });

  it('reads tokenizer.json with tokenizer_config.json from files and writes them back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'covrl-hf-tok-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
      await writeFile(
        join(dir, 'tokenizer_config.json'),
        JSON.stringify({ eos_token: '</answer>' }),
      );
      const fromFile = await readHfTokenizer(join(dir, 'tokenizer.json'));
      expect(fromFile.eosId).toBe(270);
      expect(fromFile.encode('the<think>')).toEqual(tok.encode('the<think>'));
      const out = join(dir, 'out');
      await import('node:fs/promises').then((fs) => fs.mkdir(out));
      await writeHfTokenizer(fromFile, out);
      expect(JSON.parse(await readFile(join(out, 'tokenizer_config.json'), 'utf8'))).toEqual({
        eos_token: '</answer>',
      });
      const again = await readHfTokenizer(join(out, 'tokenizer.json'));
      expect(again.eosId).toBe(270);
      expect(again.toJSON()).toEqual(json);
      await expect(readHfTokenizer(join(dir, 'nope.json'))).rejects.toThrow(
        /cannot read .*nope\.json/,
      );
      await writeFile(join(dir, 'bad.json'), '{');
      await expect(readHfTokenizer(join(dir, 'bad.json'))).rejects.toThrow(
        /bad\.json is not valid JSON/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects an object that is not a tokenizer.json', () => {
    expect(() => HfTokenizer.fromJSON({ vocab: {} }, { file: 'x.json' })).toThrow(
      /x\.json: not a tokenizer\.json/,
    );
  });

  it('agrees with the native tokenizers binding when it is installed', async () => {
    const native = await tok.native();
    const mod = await loadNativeTokenizers();
    expect(native === undefined).toBe(mod === undefined);
    if (native === undefined) return;
    const texts = [
      'the think<think>then</think>\n<answer>42</answer>',
      'héllo wörld 🙂',
      ' an  answer<|endoftext|>',
    ];
    for (const text of texts) {
      const mine = tok.encodeWithOffsets(text);
      const theirs = await native.encodeWithOffsets(text);
      expect(mine.ids).toEqual(theirs.ids);
      expect(mine.offsets).toEqual(theirs.offsets);
      expect(await native.decode(theirs.ids)).toBe(text);
    }
  });
});
