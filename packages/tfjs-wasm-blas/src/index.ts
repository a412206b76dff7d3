/**
 * `@covrl/tfjs-wasm-blas`: BLAS-backed `BatchMatMul` and `_FusedMatMul` kernels for the TF.js wasm
 * backend, computing on the backend's heap with zero copies (optional native dependency `nblas`),
 * and fused AdamW, norm and activation kernels (a SIMD128 module on the same heap, no BLAS needed).
 */
export { enableWasmBlas, disableWasmBlas, wasmBlasStatus } from './enable-wasm-blas.js';
export {
  enableWasmFusedKernels,
  disableWasmFusedKernels,
  wasmFusedKernelsStatus,
  FUSED_KERNEL_NAMES,
} from './fused-kernels.js';
export type {
  WasmFusedKernelName,
  WasmFusedKernelsOptions,
  WasmFusedKernelsStatus,
} from './fused-kernels.js';
export { profileKernels } from './profile-kernels.js';
export type { KernelTime } from './profile-kernels.js';
export { classifyBlasLibrary } from './classify-blas-library.js';
export type { BlasLibraryClass } from './classify-blas-library.js';
export type { BlasKind, WasmBlasLibraryInfo, WasmBlasOptions, WasmBlasStatus } from './types.js';
