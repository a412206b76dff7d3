/**
 * Reading and writing the safetensors format (reference: huggingface/safetensors, `README.md`
 * "Format" section and `safetensors/src/tensor.rs` validation):
 *
 * ```
 * [8 bytes: N, unsigned little-endian u64] [N bytes: UTF-8 JSON header] [data bytes]
 * header = { "__metadata__"?: { string: string }, name: { dtype, shape, data_offsets: [begin, end] } }
 * ```
 *
 * Offsets are relative to the start of the data section; tensors are little-endian, row-major and
 * must tile the data section exactly (no gaps, no overlap, nothing after the last tensor).
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';

/** Element types of the safetensors format that this reader understands. */
export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of every supported dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/**
 * One decoded tensor. Floating dtypes (`F64`, `F32`, `F16`, `BF16`) decode to `Float32Array`;
 * integer and boolean dtypes to `Int32Array` (`I64` values outside the int32 range are an error).
 * `dtype` is the dtype stored in the file, before conversion.
 */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  readonly tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Record<string, string>;
}

/** A tensor to write: `data.length` must equal the product of `shape` (row-major). */
export interface TensorRecordEntry {
  readonly shape: readonly number[];
  /** `Float32Array` is written as `F32`, `Int32Array` as `I32`. */
  readonly data: Float32Array | Int32Array;
}

/** Largest header accepted (the reference implementation uses 100 MB as well). */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, value);
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * IEEE 754 half precision (binary16) to a JS number: 1 sign bit, 5 exponent bits (bias 15),
 * 10 mantissa bits; exponent 0 is subnormal (`m · 2⁻²⁴`), exponent 31 is ±Infinity or NaN.
 */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Read `count` little-endian elements starting at `offset` of `bytes` as the given dtype. */
function decodeElements(
  bytes: Uint8Array,
  offset: number,
  count: number,
  dtype: SafetensorsDtype,
  where: string,
): Float32Array | Int32Array {
  const byteLength = count * SAFETENSORS_DTYPE_BYTES[dtype];
  // Copy into a fresh, aligned buffer: the file's data offsets need not be element-aligned.
  // (Not `bytes.slice`: on a Node Buffer that returns a view of the same memory.)
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(offset, offset + byteLength));
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST) return new Float32Array(copy.buffer, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = float16BitsToNumber(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32: shift its 16 bits into the high half.
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      // Uint32Array and Float32Array views share the host's byte order, so this is endian-safe.
      for (let i = 0; i < count; i++) outBits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(`${where}: I64 element ${i} = ${v} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'I32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      return out;
    }
  }
}

/**
 * Parse a safetensors file held in memory.
 *
 * Validation (each failure throws an `Error` naming `file` and, where there is one, the tensor):
 * the buffer holds at least the 8-byte length; the header length fits in the buffer and is at
 * most 100 MB; the header is UTF-8 JSON of an object; `__metadata__` maps strings to strings;
 * every tensor has a known dtype, a shape of non-negative integers, and integer `data_offsets`
 * `[begin, end]` with `0 ≤ begin ≤ end ≤ data length` and `end − begin = Π shape · bytes(dtype)`;
 * sorted by `begin` the tensors tile the data section exactly (no overlap, no gap, no trailing
 * bytes), as the reference implementation requires.
 *
 * @param bytes - the whole file.
 * @param options.file - name used in error messages (default `'<memory>'`).
 * @returns tensors decoded to `Float32Array` (float dtypes) or `Int32Array` (integer dtypes),
 *   shapes as stored, and the metadata map.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  options: { readonly file?: string } = {},
): SafetensorsFile {
  const file = options.file ?? '<memory>';
  const fail = (why: string): never => {
    throw new Error(`parseSafetensors: ${file}: ${why}`);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length; it is truncated`);
  }
  const headerLengthBig = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLengthBig > BigInt(bytes.length - 8)) {
    fail(
      `header length ${headerLengthBig} exceeds the ${bytes.length - 8} bytes after the length field; the file is truncated or not safetensors`,
    );
  }
  if (headerLengthBig > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLengthBig} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = Number(headerLengthBig);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
    header = JSON.parse(text);
  } catch (error) {
    fail(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('header must be a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    begin: number;
    end: number;
  }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        fail('__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (typeof value !== 'object' || value === null) fail(`${where}: entry must be an object`);
    const entry = value as Record<string, unknown>;
    const dtype = entry['dtype'];
    if (!isDtype(dtype)) {
      fail(
        `${where}: unsupported dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`,
      );
    }
    const shape = entry['shape'];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(
        `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    const offsets = entry['data_offsets'];
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`${where}: data_offsets must be [begin, end] integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data section`,
      );
    }
    const expected =
      elementCount(shape as number[]) * SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(
        `${where}: shape [${(shape as number[]).join(', ')}] of ${String(dtype)} needs ${expected} bytes but data_offsets span ${end - begin}`,
      );
    }
    entries.push({
      name,
      dtype: dtype as SafetensorsDtype,
      shape: [...(shape as number[])],
      begin,
      end,
    });
  }
  // The tensors must tile the data section: sort by start and check each starts where the
  // previous one ended (zero-size tensors may sit anywhere on a boundary).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous = '';
  for (const e of entries) {
    if (e.begin < cursor) {
      fail(
        `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap tensor '${previous}' (which ends at ${cursor})`,
      );
    }
    if (e.begin > cursor) {
      fail(
        `tensor '${e.name}': gap of ${e.begin - cursor} bytes before it (data_offsets must be contiguous)`,
      );
    }
    cursor = e.end;
    previous = e.name;
  }
  if (cursor !== dataLength) {
    fail(
      `tensors cover ${cursor} bytes but the data section has ${dataLength} (trailing or missing bytes)`,
    );
  }
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of entries) {
    tensors[e.name] = {
      dtype: e.dtype,
      shape: e.shape,
      data: decodeElements(
        bytes,
        dataStart + e.begin,
        elementCount(e.shape),
        e.dtype,
        `parseSafetensors: ${file}: tensor '${e.name}'`,
      ),
    };
  }
  return { tensors, metadata };
}

/**
 * Serialise tensors to safetensors bytes: `Float32Array` data as `F32`, `Int32Array` as `I32`,
 * little-endian; keys sorted (so equal inputs give identical bytes); data laid out in key order;
 * header padded with spaces so the data section starts at a multiple of 8 bytes (the reference
 * writer aligns the same way).
 *
 * @param tensors - name → `{ shape, data }` with `data.length = Π shape`.
 * @param metadata - optional `__metadata__` string map (HF transformers expects `{ format: 'pt' }`).
 * @throws Error naming the tensor whose data length does not match its shape, or a bad metadata value.
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, TensorRecordEntry>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new Error(`serializeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
      }
    }
    header['__metadata__'] = { ...metadata };
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') {
      throw new Error(`serializeSafetensors: '__metadata__' is reserved; rename that tensor`);
    }
    const t = tensors[name] as TensorRecordEntry;
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(
        `serializeSafetensors: tensor '${name}': shape must be non-negative integers, got [${t.shape.join(', ')}]`,
      );
    }
    const n = elementCount(t.shape);
    if (!(t.data instanceof Float32Array) && !(t.data instanceof Int32Array)) {
      throw new Error(
        `serializeSafetensors: tensor '${name}': data must be a Float32Array or Int32Array`,
      );
    }
    if (t.data.length !== n) {
      throw new Error(
        `serializeSafetensors: tensor '${name}': shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: t.data instanceof Float32Array ? 'F32' : 'I32',
      shape: [...t.shape],
      data_offsets: [offset, offset + 4 * n],
    };
    offset += 4 * n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let cursor = 8 + padded;
  for (const name of names) {
    const t = tensors[name] as TensorRecordEntry;
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), cursor);
    } else {
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i] ?? 0;
        if (t.data instanceof Float32Array) view.setFloat32(cursor + 4 * i, v, true);
        else view.setInt32(cursor + 4 * i, v, true);
      }
    }
    cursor += t.data.byteLength;
  }
  return out;
}

/**
 * Download TF.js tensors into a plain record (for checkpoints and {@link serializeSafetensors}).
 * `float32` tensors become `Float32Array`, `int32` and `bool` tensors `Int32Array`. The input
 * tensors are neither modified nor disposed; no tensor is created.
 *
 * @throws Error naming the tensor when its dtype is neither float32, int32 nor bool.
 */
export async function tensorsToRecord({
  tensors,
}: {
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
}): Promise<Record<string, TensorRecordEntry>> {
  const out: Record<string, TensorRecordEntry> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype === 'float32') {
      out[name] = { shape: [...t.shape], data: Float32Array.from(await t.data<'float32'>()) };
    } else if (t.dtype === 'int32' || t.dtype === 'bool') {
      out[name] = { shape: [...t.shape], data: Int32Array.from(await t.data<'int32'>()) };
    } else {
      throw new Error(
        `tensorsToRecord: tensors.${name} has dtype ${t.dtype}; only float32, int32 and bool are stored`,
      );
    }
  }
  return out;
}

/**
 * Create one TF.js tensor per record entry, with the entry's shape; `Float32Array` data gives
 * `float32` tensors and `Int32Array` data `int32` tensors. The caller owns (and must dispose)
 * the returned tensors; nothing else is allocated.
 *
 * @throws Error naming the entry whose data length is not the product of its shape.
 */
export function recordToTensors({
  record,
}: {
  readonly record: Readonly<Record<string, TensorRecordEntry>>;
}): Record<string, tf.Tensor> {
  for (const [name, e] of Object.entries(record)) {
    const n = elementCount(e.shape);
    if (e.data.length !== n) {
      throw new Error(
        `recordToTensors: record.${name}: shape [${e.shape.join(', ')}] has ${n} elements but data has ${e.data.length}`,
      );
    }
  }
  const out: Record<string, tf.Tensor> = {};
  for (const [name, e] of Object.entries(record)) {
    out[name] = tf.tensor(
      e.data,
      [...e.shape],
      e.data instanceof Float32Array ? 'float32' : 'int32',
    );
  }
  return out;
}
