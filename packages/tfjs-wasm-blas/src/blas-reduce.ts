import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Sgemv, WasmBackendLike } from './types.js';
import { CBLAS_NO_TRANS, CBLAS_TRANS } from './types.js';

const BYTES_PER_FLOAT = 4;
/** Above this many separate sgemv calls (a middle block of axes), the stock kernel is used. */
const MAX_OUTER_CALLS = 256;

let ones = new Float32Array(0);

/** A JS-heap vector of at least `size` ones, reused across calls (BLAS reads it, never writes). */
function onesOf(size: number): Float32Array {
  if (ones.length < size) ones = new Float32Array(Math.max(size, 2 * ones.length)).fill(1);
  return ones.subarray(0, size);
}

/**
 * Sum (or mean, `mean: true`) of a float32 tensor on the wasm heap over one contiguous block of
 * axes, as matrix–vector products with a ones vector: view `x` as `[outer, reduce, inner]`
 * (`reduce` = product of the reduced dims); then
 * - `inner = 1` (trailing block): `y[outer] = X[outer, reduce] · 1`, one `sgemv(NoTrans)`;
 * - otherwise: for each of the `outer` slices, `y[inner] = X[reduce, inner]ᵀ · 1`, `sgemv(Trans)`,
 *   so no transpose is materialised (the stock wasm kernels transpose the axes innermost first).
 * alpha = 1/reduce for the mean. Readable loop it replaces, per output element:
 * `y[o, i] = Σ_r x[o, r, i]` (× 1/reduce).
 *
 * Shapes: `x` any rank ≥ 1; `axis` a number or list (negative counts from the end, duplicates
 * ignored); output = `x.shape` without the reduced dims, or with them set to 1 if `keepDims`.
 * The output is zeroed before `sgemv` (beta = 0 must not read uninitialised memory, which may hold
 * NaN bit patterns of a freed tensor) and the heap view is taken after the allocation.
 *
 * Returns null (caller runs the stock kernel) for non-float32 data, an empty axis list, axes that
 * are not one contiguous block, zero-size tensors, and more than 256 outer slices.
 */
export function blasReduce({
  backend,
  x,
  axis,
  keepDims,
  mean,
  sgemv,
}: {
  readonly backend: WasmBackendLike;
  readonly x: TensorInfo;
  readonly axis: number | readonly number[];
  readonly keepDims: boolean;
  readonly mean: boolean;
  readonly sgemv: Sgemv;
}): TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const rank = x.shape.length;
  if (rank === 0) return null;
  const listed = typeof axis === 'number' ? [axis] : [...axis];
  if (listed.some((a) => !Number.isInteger(a) || a < -rank || a >= rank)) return null;
  const axes = [...new Set(listed.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  const first = axes[0];
  const last = axes[axes.length - 1];
  if (first === undefined || last === undefined || last - first + 1 !== axes.length) return null;
  const sizeOf = (dims: readonly number[]): number => dims.reduce((p, s) => p * s, 1);
  const outer = sizeOf(x.shape.slice(0, first));
  const reduce = sizeOf(x.shape.slice(first, last + 1));
  const inner = sizeOf(x.shape.slice(last + 1));
  if (outer === 0 || reduce === 0 || inner === 0) return null;
  if (inner > 1 && outer > MAX_OUTER_CALLS) return null;
  const offsetX = backend.dataIdMap.get(x.dataId)?.memoryOffset;
  if (offsetX == null) return null;

  const outShape = keepDims
    ? x.shape.map((size, dim) => (dim >= first && dim <= last ? 1 : size))
    : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)];
  const out = backend.makeOutput(outShape, 'float32');
  const offsetY = backend.dataIdMap.get(out.dataId)?.memoryOffset;
  if (offsetY == null)
    throw new Error('blasReduce: output has no heap offset (wasm backend changed?)');
  const heap = backend.wasm.HEAPU8.buffer; // after makeOutput: growth detaches older views
  const alpha = mean ? 1 / reduce : 1;
  const vector = onesOf(reduce);
  const y = new Float32Array(heap, offsetY, outer * inner).fill(0);
  if (inner === 1) {
    const matrix = new Float32Array(heap, offsetX, outer * reduce);
    sgemv(CBLAS_NO_TRANS, outer, reduce, alpha, matrix, reduce, vector, 1, 0, y, 1);
    return out;
  }
  for (let slice = 0; slice < outer; slice += 1) {
    const matrix = new Float32Array(
      heap,
      offsetX + slice * reduce * inner * BYTES_PER_FLOAT,
      reduce * inner,
    );
    const target = y.subarray(slice * inner, (slice + 1) * inner);
    sgemv(CBLAS_TRANS, reduce, inner, alpha, matrix, inner, vector, 1, 0, target, 1);
  }
  return out;
}
