import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Sgemm, WasmBackendLike } from './types.js';
import { CBLAS_NO_TRANS, CBLAS_TRANS } from './types.js';

const BYTES_PER_FLOAT = 4;

/**
 * `C[..., m, n] = op(A)[..., m, k] · op(B)[..., k, n]` for float32 tensors that live on the wasm
 * backend's heap, computed by one row-major CBLAS `sgemm` per batch entry on `Float32Array` views
 * of that heap (no copies): op(X) = Xᵀ over the last two dims when the transpose flag is set.
 * Technique and measurements: docs `compute.md`, "Native GEMM on the wasm heap".
 *
 * Shapes: `a` is `[...batchA, m, k]` (`[...batchA, k, m]` with `transposeA`), `b` is
 * `[...batchB, k, n]` (`[...batchB, n, k]` with `transposeB`), rank ≥ 2 each; the batch dims
 * broadcast NumPy-style (right-aligned, size-1 dims stretch), so `[1,m,k]·[b,k,n]` and the rank
 * mix `[b,m,k]·[k,n]` both work. Output `[...broadcast(batchA, batchB), m, n]`.
 *
 * Row-major CBLAS leading dimensions: A stored `[m,k]` has lda = k, stored `[k,m]` (transposed)
 * lda = m; B stored `[k,n]` has ldb = n, stored `[n,k]` ldb = k; C `[m,n]` has ldc = n.
 * When B has no batch (or only size-1 batch dims) and A is not transposed, A's batch folds into
 * the rows, `[batch·m, k]·[k, n]`, one sgemm for the whole product.
 *
 * Returns null (the caller then runs the original kernel) for: non-float32 operands, rank < 2,
 * mismatched inner dims or non-broadcastable batches (the original kernel throws TF.js's own
 * error), any zero-size dimension, products below `minFlops`, and data not on the heap.
 *
 * The heap view is taken after `makeOutput`, the only allocation here: growing the wasm memory
 * detaches every earlier view of it.
 */
export function blasBatchMatMul({
  backend,
  a,
  b,
  transposeA,
  transposeB,
  sgemm,
  minFlops,
  rowBias,
}: {
  readonly backend: WasmBackendLike;
  readonly a: TensorInfo;
  readonly b: TensorInfo;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly sgemm: Sgemm;
  readonly minFlops: number;
  /**
   * Optional float32 bias of `n` values added to every output row (`C = op(A)·op(B) + 1·biasᵀ`):
   * C is pre-filled with the bias rows and sgemm runs with beta = 1. Null return if its size ≠ n.
   */
  readonly rowBias?: TensorInfo;
}): TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  if (rankA < 2 || rankB < 2) return null;
  const [rowsA, colsA] = lastTwo(a.shape);
  const [rowsB, colsB] = lastTwo(b.shape);
  const m = transposeA ? colsA : rowsA;
  const k = transposeA ? rowsA : colsA;
  const kB = transposeB ? colsB : rowsB;
  const n = transposeB ? rowsB : colsB;
  if (k !== kB || m === 0 || n === 0 || k === 0) return null;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(batchShapeA, batchShapeB);
  if (batchShape === null) return null;
  const batch = product(batchShape);
  if (batch === 0 || 2 * m * n * k * batch < minFlops) return null;
  const offsetA = backend.dataIdMap.get(a.dataId)?.memoryOffset;
  const offsetB = backend.dataIdMap.get(b.dataId)?.memoryOffset;
  if (offsetA == null || offsetB == null) return null;
  let offsetBias: number | null = null;
  if (rowBias !== undefined) {
    if (rowBias.dtype !== 'float32' || product(rowBias.shape) !== n) return null;
    offsetBias = backend.dataIdMap.get(rowBias.dataId)?.memoryOffset ?? null;
    if (offsetBias === null) return null;
  }

  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  const offsetC = backend.dataIdMap.get(out.dataId)?.memoryOffset;
  if (offsetC == null)
    throw new Error('blasBatchMatMul: output has no heap offset (wasm backend changed?)');
  // Re-take the heap AFTER the allocation above: growth replaces the ArrayBuffer.
  const heap = backend.wasm.HEAPU8.buffer;
  const transa = transposeA ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const transb = transposeB ? CBLAS_TRANS : CBLAS_NO_TRANS;
  const lda = transposeA ? m : k;
  const ldb = transposeB ? k : n;
  const sizeA = m * k;
  const sizeB = k * n;
  const sizeC = m * n;
  let beta = 0;
  if (offsetBias !== null) {
    // Every row of C starts as the bias: write one row, then double the filled prefix with
    // copyWithin (log2(rows) native copies; the loop is over copies, not elements).
    const total = batch * sizeC;
    const c = new Float32Array(heap, offsetC, total);
    c.set(new Float32Array(heap, offsetBias, n));
    for (let filled = n; filled < total; filled *= 2) {
      c.copyWithin(filled, 0, Math.min(filled, total - filled));
    }
    beta = 1;
  }

  if (!transposeA && product(batchShapeB) === 1) {
    // A's batch folds into rows: [batch·m, k]·[k, n] (B is shared by every batch entry).
    const rows = batch * m;
    sgemm(
      transa,
      transb,
      rows,
      n,
      k,
      1,
      new Float32Array(heap, offsetA, rows * k),
      lda,
      new Float32Array(heap, offsetB, sizeB),
      ldb,
      beta,
      new Float32Array(heap, offsetC, rows * n),
      n,
    );
    return out;
  }

  const indexA = broadcastSourceIndices(batchShape, batchShapeA);
  const indexB = broadcastSourceIndices(batchShape, batchShapeB);
  for (let entry = 0; entry < batch; entry += 1) {
    const sourceA = indexA[entry] ?? 0;
    const sourceB = indexB[entry] ?? 0;
    sgemm(
      transa,
      transb,
      m,
      n,
      k,
      1,
      new Float32Array(heap, offsetA + sourceA * sizeA * BYTES_PER_FLOAT, sizeA),
      lda,
      new Float32Array(heap, offsetB + sourceB * sizeB * BYTES_PER_FLOAT, sizeB),
      ldb,
      beta,
      new Float32Array(heap, offsetC + entry * sizeC * BYTES_PER_FLOAT, sizeC),
      n,
    );
  }
  return out;
}

function lastTwo(shape: readonly number[]): [number, number] {
  return [shape[shape.length - 2] ?? 0, shape[shape.length - 1] ?? 0];
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, size) => total * size, 1);
}

/** NumPy broadcast of two shapes (right-aligned, 1 stretches), or null when incompatible. */
export function broadcastShapes(
  first: readonly number[],
  second: readonly number[],
): number[] | null {
  const rank = Math.max(first.length, second.length);
  const shape: number[] = [];
  for (let axis = 0; axis < rank; axis += 1) {
    const x = first[first.length - rank + axis] ?? 1;
    const y = second[second.length - rank + axis] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    shape.push(x === 1 ? y : x);
  }
  return shape;
}

/**
 * For each flat index of the broadcast batch `outShape`, the flat index of the batch entry of an
 * operand with batch shape `inShape` that it reads (size-1 and missing leading dims repeat).
 * One integer per batch entry (not per element), so the loop is over matrices, not data.
 */
export function broadcastSourceIndices(
  outShape: readonly number[],
  inShape: readonly number[],
): Int32Array {
  const total = product(outShape);
  const indices = new Int32Array(total);
  const rank = outShape.length;
  // Stride of each output axis in the input's flat batch index (0 where the input broadcasts).
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let axis = rank - 1; axis >= 0; axis -= 1) {
    const inAxis = inShape.length - rank + axis;
    const size = inAxis >= 0 ? (inShape[inAxis] ?? 1) : 1;
    strides[axis] = size === 1 ? 0 : stride;
    stride *= size;
  }
  for (let flat = 0; flat < total; flat += 1) {
    let rest = flat;
    let source = 0;
    for (let axis = rank - 1; axis >= 0; axis -= 1) {
      const size = outShape[axis] ?? 1;
      source += (rest % size) * (strides[axis] ?? 0);
      rest = Math.floor(rest / size);
    }
    indices[flat] = source;
  }
  return indices;
}
