/**
 * bfloat16 safetensors bytes, as `save_pretrained` writes checkpoints stored in `torch.bfloat16`
 * (SmolLM2, Qwen2.5, Qwen3 on the Hub): for tests and benchmarks that need a BF16 model
 * directory without downloading one. The reader side is `parseSafetensors` (BF16 → float32).
 *
 * @packageDocumentation
 */
import type { FloatTensorEntry } from './hf-weights.js';

/**
 * Round a float32 to the nearest bfloat16 (ties to even), returning its 16 bits. NaN stays a
 * (quiet) NaN; infinities and values that round past the largest bfloat16 become ±∞, as
 * `torch.Tensor.to(torch.bfloat16)` does.
 */
export function float32ToBf16Bits(value: number): number {
  SCRATCH_F32[0] = value;
  return bitsToBf16(SCRATCH_U32[0] as number);
}

const SCRATCH_F32 = new Float32Array(1);
const SCRATCH_U32 = new Uint32Array(SCRATCH_F32.buffer);

/** {@link float32ToBf16Bits} on the raw float32 bits. */
function bitsToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x40) & 0xffff; // NaN: keep it a quiet NaN
  }
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/**
 * Serialise float tensors as a BF16 safetensors file (keys sorted, header padded to 8 bytes,
 * little-endian), the layout `parseSafetensors` reads.
 * @param metadata - `__metadata__` (transformers expects `{ format: 'pt' }`).
 */
export function serializeSafetensorsBf16(
  tensors: Readonly<Record<string, FloatTensorEntry>>,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: { ...metadata } };
  let offset = 0;
  for (const name of names) {
    const t = tensors[name] as FloatTensorEntry;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) {
      throw new Error(
        `serializeSafetensorsBf16: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`,
      );
    }
    header[name] = { dtype: 'BF16', shape: [...t.shape], data_offsets: [offset, offset + 2 * n] };
    offset += 2 * n;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const name of names) {
    const data = (tensors[name] as FloatTensorEntry).data;
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < bits.length; i++, pos += 2) {
      view.setUint16(pos, bitsToBf16(bits[i] as number), true);
    }
  }
  return out;
}
