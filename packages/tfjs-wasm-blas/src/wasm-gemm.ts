/**
 * The SIMD128 GEMM and the scatter-add of the engine's own WebAssembly module
 * (`native/fused-kernels.c`: `gemm`, `segment_sum`) as TF.js wasm kernels: `BatchMatMul` and the
 * product of `_FusedMatMul` with no system BLAS, and `UnsortedSegmentSum` (the gradient of a row
 * gather), which the stock wasm backend lacks.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { broadcastShapes, broadcastSourceIndices } from './blas-batch-mat-mul.js';
import { isWasmBackendLike, makeBatchMatMulKernel } from './blas-kernels.js';
import type { MatMulProduct } from './blas-kernels.js';
import type { WasmBackendLike } from './types.js';

/** The module's GEMM and scatter-add exports (pointers are byte offsets into the heap). */
export interface GemmExports {
  gemm(
    a: number,
    b: number,
    c: number,
    bias: number,
    hasBias: number,
    scratch: number,
    m: number,
    n: number,
    k: number,
    rsA: number,
    csA: number,
    rsB: number,
    csB: number,
    batch: number,
    strideA: number,
    strideB: number,
  ): void;
  segment_sum(
    x: number,
    ids: number,
    out: number,
    rows: number,
    inner: number,
    numSegments: number,
  ): void;
}

/** The module's blocking constants (`GEMM_KC`, `GEMM_NC`, `GEMM_NR` in the C file). */
const KC = 256;
const NC = 512;
const NR = 8;
const MC = 64;

const product = (shape: readonly number[]): number => shape.reduce((p, s) => p * s, 1);

function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (offset == null) throw new Error('wasm GEMM: a tensor has no data on the wasm heap');
  return offset;
}

/**
 * `C[..., m, n] = op(A)[..., m, k] · op(B)[..., k, n]` (+ `rowBias` on every row) by the module's
 * SIMD128 GEMM, on the wasm heap with no copies and no transposing copy: the transpose flags
 * become element strides of the operand as stored (`transposeA`: A stored `[..., k, m]`;
 * `transposeB`: B stored `[..., n, k]`), read in place by the kernel's B packing and A loads.
 *
 * Batches broadcast NumPy-style as in TF.js `BatchMatMul` (rank ≥ 2 each, right-aligned batch
 * dims, size 1 stretches). An operand whose batch is all ones is passed with batch stride 0 (one
 * call for the whole batch); with A not transposed and B broadcast, A's batch folds into its rows
 * (one `[batch·m, k]·[k, n]` product, B packed once). Any other broadcast (`[2,1,…]·[1,3,…]`)
 * runs one call per output matrix with its source entries.
 *
 * Empty outputs are returned without a call; `k = 0` gives the bias (or zeros), as the sum over
 * an empty range. A scratch block of min(k, 256)·(roundup(min(n, 512), 8) + 64) floats (the packed
 * B panels and a copy of a 64-row block of a transposed A) is allocated on the heap for the call
 * and freed after it.
 *
 * Returns null (the caller runs the original kernel, which throws TF.js's own errors) for non-
 * float32 operands, rank < 2, mismatched inner dims, non-broadcastable batches, a bias whose size
 * is not `n`, and data not on the heap.
 */
export function wasmGemmBatchMatMul({
  backend,
  module,
  a,
  b,
  transposeA,
  transposeB,
  rowBias,
}: {
  readonly backend: WasmBackendLike;
  readonly module: GemmExports;
  readonly a: TensorInfo;
  readonly b: TensorInfo;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly rowBias?: TensorInfo;
}): TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const rowsA = a.shape[a.shape.length - 2] as number;
  const colsA = a.shape[a.shape.length - 1] as number;
  const rowsB = b.shape[b.shape.length - 2] as number;
  const colsB = b.shape[b.shape.length - 1] as number;
  const m = transposeA ? colsA : rowsA;
  const k = transposeA ? rowsA : colsA;
  const n = transposeB ? rowsB : colsB;
  if ((transposeB ? colsB : rowsB) !== k) return null;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(batchShapeA, batchShapeB);
  if (batchShape === null) return null;
  if (rowBias !== undefined && (rowBias.dtype !== 'float32' || product(rowBias.shape) !== n)) {
    return null;
  }
  const offsetA = backend.dataIdMap.get(a.dataId)?.memoryOffset;
  const offsetB = backend.dataIdMap.get(b.dataId)?.memoryOffset;
  const offsetBias =
    rowBias === undefined ? 0 : backend.dataIdMap.get(rowBias.dataId)?.memoryOffset;
  if (offsetA == null || offsetB == null || offsetBias == null) return null;

  const batch = product(batchShape);
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  if (batch * m * n === 0) return out;
  // Packed B panels, then an MC-row block of a transposed A (see `gemm` in the C file).
  const scratchSize = Math.max(1, Math.min(k, KC) * (Math.ceil(Math.min(n, NC) / NR) * NR + MC));
  const scratch = backend.makeOutput([scratchSize], 'float32');
  try {
    const offsetC = offsetOf(backend, out);
    const offsetScratch = offsetOf(backend, scratch);
    // Element strides of op(A) and op(B) as stored (floats); batch strides per matrix.
    const [rsA, csA] = transposeA ? [1, m] : [k, 1];
    const [rsB, csB] = transposeB ? [1, k] : [n, 1];
    const sizeA = m * k;
    const sizeB = k * n;
    const batchA = product(batchShapeA);
    const batchB = product(batchShapeB);
    const hasBias = rowBias === undefined ? 0 : 1;
    const call = (pa: number, pb: number, pc: number, rows: number, count: number): void =>
      module.gemm(
        pa,
        pb,
        pc,
        offsetBias,
        hasBias,
        offsetScratch,
        rows,
        n,
        k,
        rsA,
        csA,
        rsB,
        csB,
        count,
        batchA === 1 ? 0 : sizeA,
        batchB === 1 ? 0 : sizeB,
      );
    if (batchB === 1 && !transposeA) {
      // A's batch folds into its rows (batchA is 1 or the whole batch): one product, B packed once.
      call(offsetA, offsetB, offsetC, batch * m, 1);
    } else if ((batchA === 1 || batchA === batch) && (batchB === 1 || batchB === batch)) {
      call(offsetA, offsetB, offsetC, m, batch);
    } else {
      const indexA = broadcastSourceIndices(batchShape, batchShapeA);
      const indexB = broadcastSourceIndices(batchShape, batchShapeB);
      for (let entry = 0; entry < batch; entry += 1) {
        call(
          offsetA + (indexA[entry] as number) * sizeA * 4,
          offsetB + (indexB[entry] as number) * sizeB * 4,
          offsetC + entry * m * n * 4,
          m,
          1,
        );
      }
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    backend.disposeData(scratch.dataId);
  }
  return out;
}

/** {@link wasmGemmBatchMatMul} as the `product` of a `_FusedMatMul` kernel. */
export function wasmGemmProduct(
  getModule: (backend: WasmBackendLike) => GemmExports,
): MatMulProduct {
  return (args) => wasmGemmBatchMatMul({ ...args, module: getModule(args.backend) });
}

/**
 * The `BatchMatMul` kernel of the module's GEMM (attrs `transposeA`, `transposeB`); what
 * {@link wasmGemmBatchMatMul} declines runs through `original`, the wasm backend's own kernel.
 */
export function makeGemmBatchMatMulKernel({
  getModule,
  original,
}: {
  readonly getModule: (backend: WasmBackendLike) => GemmExports;
  readonly original: KernelFunc;
}): KernelFunc {
  return makeBatchMatMulKernel({ original, product: wasmGemmProduct(getModule) });
}

/**
 * `UnsortedSegmentSum` for the wasm backend (the stock one has none, so `tf.gather`'s gradient
 * fails there): `out[s, ...] = Σ_{r: ids[r] = s} x[r, ...]` for `x [...idsShape, ...inner]`,
 * `segmentIds` int32 of shape `idsShape` (a prefix of x's shape; TF.js passes rank 1), attr
 * `numSegments`, output `[numSegments, ...inner]`. Ids outside `[0, numSegments)` are dropped (TF
 * drops negative ids; TF.js's cpu kernel drops both). float32 runs in the module (one zero-fill
 * of the output plus one SIMD add per id: O((ids + numSegments)·inner), where the one-hot
 * product that embeddings used instead costs O(ids·numSegments·inner)); int32 in a JS loop.
 * Rows are added in id order, so each segment is a left-to-right float32 sum of its rows.
 * @throws Error naming the kernel and the input or attr when shapes, dtypes or `numSegments`
 *   are invalid.
 */
export function makeSegmentSumKernel(
  getModule: (backend: WasmBackendLike) => GemmExports,
): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const kernel = 'UnsortedSegmentSum';
    const x = inputs['x'];
    const ids = inputs['segmentIds'];
    const numSegments = attrs?.['numSegments'];
    if (!isWasmBackendLike(backend)) throw new Error(`${kernel}: runs on the wasm backend only`);
    if (x == null || ids == null) throw new Error(`${kernel}: needs inputs 'x' and 'segmentIds'`);
    if (typeof numSegments !== 'number' || !Number.isInteger(numSegments) || numSegments < 0) {
      throw new Error(
        `${kernel}: attr 'numSegments' must be an integer ≥ 0, got ${String(numSegments)}`,
      );
    }
    if (ids.dtype !== 'int32') {
      throw new Error(`${kernel}: 'segmentIds' must be int32, got ${ids.dtype}`);
    }
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new Error(`${kernel}: 'x' must be float32 or int32, got ${x.dtype}`);
    }
    const lead = x.shape.slice(0, ids.shape.length);
    if (lead.length !== ids.shape.length || lead.some((d, i) => d !== ids.shape[i])) {
      throw new Error(
        `${kernel}: 'segmentIds' [${ids.shape.join(', ')}] must be a prefix of x's shape [${x.shape.join(', ')}]`,
      );
    }
    const innerShape = x.shape.slice(ids.shape.length);
    const rows = product(ids.shape);
    const inner = product(innerShape);
    const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
    if (numSegments * inner === 0) return out;
    const px = offsetOf(backend, x);
    const pids = offsetOf(backend, ids);
    const pout = offsetOf(backend, out);
    if (x.dtype === 'float32') {
      getModule(backend).segment_sum(px, pids, pout, rows, inner, numSegments);
      return out;
    }
    const heap = backend.wasm.HEAPU8.buffer;
    const xs = new Int32Array(heap, px, rows * inner);
    const idv = new Int32Array(heap, pids, rows);
    const o = new Int32Array(heap, pout, numSegments * inner).fill(0);
    for (let r = 0; r < rows; r += 1) {
      const s = idv[r] as number;
      if (s < 0 || s >= numSegments) continue;
      for (let j = 0; j < inner; j += 1) {
        o[s * inner + j] = ((o[s * inner + j] as number) + (xs[r * inner + j] as number)) | 0;
      }
    }
    return out;
  };
}
