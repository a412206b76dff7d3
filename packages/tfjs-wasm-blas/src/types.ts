/**
 * Shared types of `@covrl/tfjs-wasm-blas`: the public options and status, and the minimal
 * structural views of the wasm backend and of the `nblas` binding that the kernels rely on.
 */
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';

/** Options of {@link enableWasmBlas}. Every field is optional; defaults are documented per field. */
export interface WasmBlasOptions {
  /**
   * OpenBLAS threads (`OPENBLAS_NUM_THREADS` during the load). Honoured only if the BLAS library is
   * not loaded yet in this process (OpenBLAS reads it once, when it is loaded); otherwise the
   * status says so. Default: the environment's `OPENBLAS_NUM_THREADS`/`OMP_NUM_THREADS` if set,
   * else 1: TF.js wasm runs one thread in Node, and idle OpenBLAS workers spin on the other cores
   * between matmuls; a GPT-style training step on 2 cores ran 2–4× faster with 1 thread than 2.
   */
  readonly threads?: number;
  /**
   * Products with fewer floating-point operations (2·m·n·k summed over the batch) than this go to
   * the original wasm kernel. Default 0: measured on this machine, sgemm beats the wasm kernel
   * even for a [1,128]·[128,128] product (6 µs against 50–77 µs per call).
   */
  readonly minFlops?: number;
  /**
   * Activate even when the BLAS behind `nblas` is the slow reference (netlib) implementation or the
   * start-up probe measures it below `minProbeGflops`. Default false.
   */
  readonly allowReferenceBlas?: boolean;
  /** Probe threshold in GFLOP/s for a 256³ sgemm (best of five), default 5. */
  readonly minProbeGflops?: number;
  /**
   * Also replace the wasm `Sum` and `Mean` kernels by `sgemv` against a ones vector for float32
   * reductions over one contiguous block of axes (bias gradients, layer-norm statistics). Default
   * true: the stock kernels transpose first when the axes are not innermost (measured: sum over
   * axis 0 of [2048,512] 7.9 ms stock, 0.09 ms sgemv; over axis 1, 1.1 ms stock).
   */
  readonly reductions?: boolean;
  /**
   * Behave as if `nblas` were not installed (for tests of the fallback path and for users who
   * want the stock kernels without touching the environment). Default false.
   */
  readonly forceUnavailable?: boolean;
}

/** What {@link enableWasmBlas}, {@link disableWasmBlas} and {@link wasmBlasStatus} report. */
export interface WasmBlasStatus {
  /** True when the wasm backend's `BatchMatMul` (and `_FusedMatMul`) kernels are BLAS-backed. */
  readonly active: boolean;
  /** One sentence: why active or why not (missing binding, reference BLAS, COVRL_BLAS=0...). */
  readonly reason: string;
  /** The BLAS found, when `nblas` loaded. */
  readonly blas?: WasmBlasLibraryInfo;
}

/** The BLAS library behind `nblas`, as found at run time. */
export interface WasmBlasLibraryInfo {
  /** Path of the shared library mapped into the process (or 'unknown' off Linux). */
  readonly library: string;
  /** 'optimized' (OpenBLAS, MKL, BLIS, ATLAS), 'reference' (netlib libblas) or 'unknown'. */
  readonly kind: BlasKind;
  /** OpenBLAS threads set for the load (option, default or environment), when known. */
  readonly threads?: number;
  /** GFLOP/s of a 256³ sgemm measured when the library was loaded. */
  readonly probeGflops: number;
}

/** Classification of a BLAS implementation by the shared library that provides it. */
export type BlasKind = 'optimized' | 'reference' | 'unknown';

/** Row-major CBLAS transpose codes as `nblas` expects them (CblasNoTrans, CblasTrans). */
export const CBLAS_NO_TRANS = 111;
export const CBLAS_TRANS = 112;

/** `nblas.sgemm`: `cblas_sgemm(CblasRowMajor, ...)` on the memory behind each view's byteOffset. */
export type Sgemm = (
  transa: number,
  transb: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

/** `nblas.sgemv`: `cblas_sgemv(CblasRowMajor, ...)`, y = alpha·op(A)·x + beta·y. */
export type Sgemv = (
  trans: number,
  m: number,
  n: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  x: Float32Array,
  incx: number,
  beta: number,
  y: Float32Array,
  incy: number,
) => void;

/** What the kernels need of `@tensorflow/tfjs-backend-wasm`'s `BackendWasm` (4.22). */
export interface WasmBackendLike {
  readonly wasm: { readonly HEAPU8: Uint8Array };
  readonly dataIdMap: {
    get(
      dataId: DataId,
    ): { memoryOffset: number | null; dtype: DataType; refCount?: number } | undefined;
  };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}
