/**
 * `@covrl/tfjs-wasm-blas`: BLAS-backed `BatchMatMul` and `_FusedMatMul` kernels for the TF.js wasm
 * backend, computing on the backend's heap with zero copies (optional native dependency `nblas`).
 */
export { enableWasmBlas, disableWasmBlas, wasmBlasStatus } from './enable-wasm-blas.js';
export { profileKernels } from './profile-kernels.js';
export type { KernelTime } from './profile-kernels.js';
export { classifyBlasLibrary } from './classify-blas-library.js';
export type { BlasLibraryClass } from './classify-blas-library.js';
export type { BlasKind, WasmBlasLibraryInfo, WasmBlasOptions, WasmBlasStatus } from './types.js';
