/**
 * TF.js set up once for the app: the full `@tensorflow/tfjs` bundle (in Node, tfjs-core alone
 * registers no gradients and no chained ops), the wasm backend registered, the backend chosen by
 * {@link selectBackend}, and on wasm the engine of `@covrl/tfjs-wasm-blas`: its fused AdamW, norm
 * and activation kernels always (`COVRL_FUSED=0` keeps the stock ones), its BLAS matmuls when a
 * fast CBLAS is installed (`COVRL_BLAS=0` keeps the plain wasm kernels).
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  enableWasmBlas,
  enableWasmFusedKernels,
  wasmFusedKernelsStatus,
} from '@covrl/tfjs-wasm-blas';
import { selectBackend } from './backend.js';

export interface RuntimeInfo {
  /** TF.js backend name in use (`wasm`, `cpu`, `tensorflow`, …). */
  readonly backend: string;
  /** Whether BLAS-backed matmul kernels are active, and why not when they are not. */
  readonly blas: { readonly active: boolean; readonly reason: string };
  /** Whether the fused wasm kernels (AdamW, norms, activations) are registered, and why not. */
  readonly fused: { readonly active: boolean; readonly reason: string };
}

let current: RuntimeInfo | undefined;

/** Select the backend (flag > `COVRL_BACKEND` > fastest that loads) and enable BLAS on wasm. */
export async function initRuntime(requested?: string): Promise<RuntimeInfo> {
  if (current !== undefined && (requested === undefined || requested === current.backend)) {
    return current;
  }
  const selection = await selectBackend(requested);
  let blas: RuntimeInfo['blas'] = { active: false, reason: `backend ${selection.backend}` };
  let fused: RuntimeInfo['fused'] = { active: false, reason: `backend ${selection.backend}` };
  if (tf.getBackend() === 'wasm') ({ blas, fused } = enableWasmEngine());
  current = { backend: tf.getBackend(), blas, fused };
  return current;
}

/**
 * Switch on the engine of `@covrl/tfjs-wasm-blas` for the wasm backend: the BLAS matmuls (when an
 * optimized CBLAS is installed; `COVRL_BLAS=0` declines) and the fused kernels (`COVRL_FUSED=0`
 * declines). Returns each part's status with the reason.
 */
export function enableWasmEngine(): Pick<RuntimeInfo, 'blas' | 'fused'> {
  const blas = enableWasmBlas();
  const fused = enableWasmFusedKernels();
  return {
    blas: { active: blas.active, reason: blas.reason },
    fused: { active: fused.active, reason: fused.reason },
  };
}

/** One-line description for logs and reports. */
export function describeRuntime(info: RuntimeInfo): string {
  if (info.backend !== 'wasm') return info.backend;
  const blas = info.blas.active ? ' + BLAS' : ` (BLAS off: ${info.blas.reason})`;
  const fused = info.fused.active
    ? ' + fused kernels'
    : ` (fused kernels off: ${info.fused.reason})`;
  return `${info.backend}${blas}${fused}`;
}

/**
 * The model's matmul-gradient form for the active runtime: with the BLAS engine, or the fused
 * kernels' SIMD128 GEMM (no BLAS), every transposed product is fast, so gradients pass transpose
 * flags (`'flags'`); otherwise the model's `'auto'` rule picks explicit transposes on plain wasm.
 */
export function preferredMatMulGradient(): 'flags' | 'auto' {
  const gemm = current?.backend === 'wasm' && wasmFusedKernelsStatus().gemm === true;
  return current?.blas.active === true || gemm ? 'flags' : 'auto';
}
