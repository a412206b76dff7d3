import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  float16BitsToNumber,
  parseSafetensors,
  recordToTensors,
  serializeSafetensors,
  tensorsToRecord,
} from './safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file.js';

/** A safetensors file assembled by hand: header JSON (unpadded) then raw data bytes. */
function build(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

/** Mulberry32: a tiny seeded generator for reproducible random tensors. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'covrl-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('serializeSafetensors / parseSafetensors', () => {
  it('round-trips float and int tensors bit-exactly, including NaN, ±0, ±Inf and subnormals', () => {
    const next = rng(7);
    const weight = new Float32Array(3 * 5).map(() => (next() - 0.5) * 10);
    const special = new Float32Array([NaN, -0, 0, Infinity, -Infinity, 1e-45, -3.4e38]);
    // A NaN with a payload must survive too: write raw bits.
    const payloadNaN = new Float32Array(1);
    new Uint32Array(payloadNaN.buffer)[0] = 0x7fc00123;
    const ints = new Int32Array([0, -1, 2147483647, -2147483648, 42]);
    const bytes = serializeSafetensors(
      {
        'b.weight': { shape: [3, 5], data: weight },
        'a.special': { shape: [7], data: special },
        nan: { shape: [], data: payloadNaN },
        empty: { shape: [0, 4], data: new Float32Array(0) },
        step: { shape: [5], data: ints },
      },
      { format: 'pt', note: 'hi' },
    );
    const parsed = parseSafetensors(bytes, { file: 'x.safetensors' });
    expect(parsed.metadata).toEqual({ format: 'pt', note: 'hi' });
    const w = parsed.tensors['b.weight'];
    expect(w?.dtype).toBe('F32');
    expect(w?.shape).toEqual([3, 5]);
    expect(bits(w?.data as Float32Array)).toEqual(bits(weight));
    expect(bits(parsed.tensors['a.special']?.data as Float32Array)).toEqual(bits(special));
    expect(bits(parsed.tensors['nan']?.data as Float32Array)[0]).toBe(0x7fc00123);
    expect(parsed.tensors['nan']?.shape).toEqual([]);
    expect(parsed.tensors['empty']?.shape).toEqual([0, 4]);
    expect(parsed.tensors['step']?.dtype).toBe('I32');
    expect(Array.from(parsed.tensors['step']?.data ?? [])).toEqual(Array.from(ints));
  });

  it('pads the header with spaces to 8 bytes, sorts keys and lays data out in key order', () => {
    const bytes = serializeSafetensors({
      z: { shape: [1], data: new Float32Array([1]) },
      a: { shape: [2], data: new Float32Array([2, 3]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(headerText.trimEnd()).toBe(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ *$/);
    expect(bytes.length).toBe(8 + n + 12);
    // Same input, same bytes, whatever the insertion order.
    const again = serializeSafetensors({
      a: { shape: [2], data: new Float32Array([2, 3]) },
      z: { shape: [1], data: new Float32Array([1]) },
    });
    expect(again).toEqual(bytes);
  });

  it('round-trips arbitrary records (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'),
          fc.array(fc.float({ noDefaultInfinity: false }), { maxLength: 12 }),
          { maxKeys: 5 },
        ),
        (raw) => {
          const record = Object.fromEntries(
            Object.entries(raw).map(([k, v]) => [
              k,
              { shape: [v.length], data: Float32Array.from(v) },
            ]),
          );
          const parsed = parseSafetensors(serializeSafetensors(record));
          expect(Object.keys(parsed.tensors).sort()).toEqual(Object.keys(record).sort());
          for (const [k, v] of Object.entries(record)) {
            expect(bits(parsed.tensors[k]?.data as Float32Array)).toEqual(bits(v.data));
          }
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });

  it('reads data at unaligned offsets of a subarray', () => {
    const bytes = serializeSafetensors({ w: { shape: [2], data: new Float32Array([1.5, -2.25]) } });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const parsed = parseSafetensors(shifted.subarray(3));
    expect(Array.from(parsed.tensors['w']?.data ?? [])).toEqual([1.5, -2.25]);
  });

  it('decodes F16 against hand-computed values', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x3555, 0.333251953125],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x8000, -0],
    ];
    const file = build(
      { h: { dtype: 'F16', shape: [cases.length + 1], data_offsets: [0, 2 * (cases.length + 1)] } },
      u16le([...cases.map((c) => c[0]), 0x7e00]),
    );
    const data = parseSafetensors(file).tensors['h']?.data as Float32Array;
    cases.forEach(([, v], i) => expect(Object.is(data[i], v)).toBe(true));
    expect(Number.isNaN(data[cases.length])).toBe(true);
    expect(float16BitsToNumber(0xbc00)).toBe(-1);
  });

  it('decodes BF16 against hand-computed values', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc040, -3],
      [0x4049, 3.140625],
      [0x3e80, 0.25],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x0001, 2 ** -133],
      [0x8000, -0],
    ];
    const file = build(
      {
        b: { dtype: 'BF16', shape: [2, 4], data_offsets: [0, 16] },
        __metadata__: { format: 'pt' },
      },
      u16le(cases.map((c) => c[0])),
    );
    const parsed = parseSafetensors(file);
    expect(parsed.tensors['b']?.dtype).toBe('BF16');
    expect(parsed.tensors['b']?.shape).toEqual([2, 4]);
    const data = parsed.tensors['b']?.data as Float32Array;
    cases.forEach(([, v], i) => expect(Object.is(data[i], v)).toBe(true));
  });

  it('decodes F64, I64 and U8, and rejects I64 values outside int32', () => {
    const data = new Uint8Array(16 + 16 + 2);
    const view = new DataView(data.buffer);
    view.setFloat64(0, 0.1, true);
    view.setFloat64(8, -1e300, true);
    view.setBigInt64(16, -5n, true);
    view.setBigInt64(24, 2147483647n, true);
    data[32] = 255;
    data[33] = 1;
    const parsed = parseSafetensors(
      build(
        {
          d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
          l: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
          u: { dtype: 'U8', shape: [2], data_offsets: [32, 34] },
        },
        data,
      ),
    );
    expect(Array.from(parsed.tensors['d']?.data ?? [])).toEqual([Math.fround(0.1), -Infinity]);
    expect(parsed.tensors['l']?.data).toBeInstanceOf(Int32Array);
    expect(Array.from(parsed.tensors['l']?.data ?? [])).toEqual([-5, 2147483647]);
    expect(Array.from(parsed.tensors['u']?.data ?? [])).toEqual([255, 1]);
    view.setBigInt64(24, 2147483648n, true);
    expect(() =>
      parseSafetensors(
        build({ l: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data.slice(16, 32)),
        {
          file: 'big.safetensors',
        },
      ),
    ).toThrow(/big\.safetensors.*tensor 'l'.*int32/);
  });
});

describe('corrupt files name the file and the tensor', () => {
  const good = serializeSafetensors({
    'layer.weight': { shape: [2, 3], data: new Float32Array(6).fill(1) },
    'layer.bias': { shape: [3], data: new Float32Array(3).fill(2) },
  });
  const parse =
    (bytes: Uint8Array): (() => unknown) =>
    () =>
      parseSafetensors(bytes, { file: 'bad.safetensors' });

  it('rejects a file shorter than the length field', () => {
    expect(parse(good.subarray(0, 5))).toThrow(/bad\.safetensors.*truncated/);
  });

  it('rejects a header length beyond the file', () => {
    const copy = good.slice();
    new DataView(copy.buffer).setBigUint64(0, 1n << 40n, true);
    expect(parse(copy)).toThrow(/bad\.safetensors: header length \d+ exceeds/);
  });

  it('rejects a truncated data section, naming the tensor', () => {
    expect(parse(good.subarray(0, good.length - 4))).toThrow(
      /bad\.safetensors: tensor 'layer\.weight'.*outside the 32-byte data section/,
    );
  });

  it('rejects trailing bytes after the last tensor', () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expect(parse(longer)).toThrow(
      /bad\.safetensors: tensors cover 36 bytes but the data section has 40/,
    );
  });

  it('rejects a header that is not JSON', () => {
    const copy = good.slice();
    copy[8] = 0x7b;
    copy[9] = 0x7b;
    expect(parse(copy)).toThrow(/bad\.safetensors: header is not valid UTF-8 JSON/);
  });

  it('rejects overlapping data_offsets, naming both tensors', () => {
    const file = build(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    expect(parse(file)).toThrow(/bad\.safetensors: tensor 'b'.*overlap tensor 'a'/);
  });

  it('rejects a gap between tensors', () => {
    const file = build(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      },
      new Uint8Array(12),
    );
    expect(parse(file)).toThrow(/tensor 'b': gap of 4 bytes/);
  });

  it('rejects a byte length that does not match shape and dtype', () => {
    const file = build(
      { w: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 16] } },
      new Uint8Array(16),
    );
    expect(parse(file)).toThrow(
      /bad\.safetensors: tensor 'w': shape \[2, 2\] of F16 needs 8 bytes but data_offsets span 16/,
    );
  });

  it('rejects unknown dtypes, bad shapes and bad metadata', () => {
    expect(
      parse(
        build({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      ),
    ).toThrow(/tensor 'w': unsupported dtype "F8_E4M3"/);
    expect(
      parse(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4))),
    ).toThrow(/tensor 'w': shape must be/);
    expect(parse(build({ __metadata__: { a: 1 } }, new Uint8Array(0)))).toThrow(
      /__metadata__\.a must be a string/,
    );
  });

  it('serializeSafetensors names a tensor whose data does not match its shape', () => {
    expect(() => serializeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /serializeSafetensors: tensor 'w': shape \[2, 2\] has 4 elements but data has 3/,
    );
  });
});

describe('safetensors files', () => {
  it('writes atomically and reads back bit-exactly, leaving no temporary file', async () => {
    const path = join(dir, 'model.safetensors');
    const data = new Float32Array([0.1, 0.2, -0.3, 1e-40]);
    await writeSafetensorsFile(path, { w: { shape: [2, 2], data } }, { format: 'pt' });
    await writeSafetensorsFile(path, { w: { shape: [2, 2], data } }, { format: 'pt' });
    const file = await readSafetensorsFile(path);
    expect(bits(file.tensors['w']?.data as Float32Array)).toEqual(bits(data));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect((await readdir(dir)).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('names the path of a missing or corrupt file', async () => {
    await expect(readSafetensorsFile(join(dir, 'nope.safetensors'))).rejects.toThrow(
      /nope\.safetensors/,
    );
  });
});

describe('tensorsToRecord / recordToTensors', () => {
  it('round-trips tf tensors with their shapes and dtypes and leaks nothing', async () => {
    const a = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tf.tensor1d([7, 8], 'int32');
    const before = tf.memory().numTensors;
    const record = await tensorsToRecord({ tensors: { a, b } });
    expect(tf.memory().numTensors).toBe(before);
    expect(record['a']?.shape).toEqual([2, 3]);
    expect(record['b']?.data).toBeInstanceOf(Int32Array);
    const parsed = parseSafetensors(serializeSafetensors(record));
    const back = recordToTensors({ record: parsed.tensors });
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(back['a']?.shape).toEqual([2, 3]);
    expect(back['a']?.dtype).toBe('float32');
    expect(back['b']?.dtype).toBe('int32');
    expect(await back['a']?.array()).toEqual(await a.array());
    expect(await back['b']?.array()).toEqual([7, 8]);
    tf.dispose([a, b, ...Object.values(back)]);
  });

  it('recordToTensors names an entry whose data does not match its shape, creating nothing', () => {
    const before = tf.memory().numTensors;
    expect(() =>
      recordToTensors({
        record: {
          ok: { shape: [1], data: new Float32Array(1) },
          bad: { shape: [3], data: new Float32Array(2) },
        },
      }),
    ).toThrow(/recordToTensors: record\.bad: shape \[3\] has 3 elements but data has 2/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
