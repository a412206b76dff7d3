/**
 * Fused kernels by name: when the current backend registers one (for example the wasm kernels of
 * `@covrl/tfjs-wasm-blas`'s `enableWasmFusedKernels`), the model's norms, activations and AdamW
 * run it instead of the equivalent chain of plain ops; otherwise nothing changes. The names,
 * inputs, attrs and outputs are a contract with the kernel provider:
 *
 * | kernel | inputs | attrs | outputs |
 * | --- | --- | --- | --- |
 * | `CovrlAdamW` | `param`, `grad`, `m`, `v` | `beta1`, `beta2`, `stepSize`, `epsHat`, `decay`, `applyDecay` | `[param', m', v']` |
 * | `CovrlLayerNorm` | `x [N, D]`, `weight [D]`, `bias [D]` | `epsilon` | `y` |
 * | `CovrlLayerNormGrad` | `dy`, `x`, `weight` | `epsilon` | `[dx, dWeight, dBias]` |
 * | `CovrlRmsNorm` | `x [N, D]`, `weight [D]` | `epsilon` | `y` |
 * | `CovrlRmsNormGrad` | `dy`, `x`, `weight` | `epsilon` | `[dx, dWeight]` |
 * | `CovrlGelu` / `CovrlGeluGrad` | `x` / `dy`, `x` | | `y` / `dx` |
 * | `CovrlSiluGate` / `CovrlSiluGateGrad` | `gate`, `up` / `dy`, `gate`, `up` | | `y` / `[dGate, dUp]` |
 * | `CovrlKvWrite` | `cache [B, H, T, hd]` or `[B, T]`, `update` (`B·H·hd` values) | `position` | `cache`, written in place |
 *
 * Formulas: those of the plain-op versions in `layers.ts` and `optim/adamw.ts` (the AdamW kernel
 * must reproduce them bit for bit; the others within float32 rounding).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';

export type FusedKernelName =
  | 'CovrlAdamW'
  | 'CovrlLayerNorm'
  | 'CovrlLayerNormGrad'
  | 'CovrlRmsNorm'
  | 'CovrlRmsNormGrad'
  | 'CovrlGelu'
  | 'CovrlGeluGrad'
  | 'CovrlSiluGate'
  | 'CovrlSiluGateGrad'
  | 'CovrlKvWrite';

/**
 * Whether the current backend has the fused kernel `name`; checked at every call (cheap: one map
 * look-up) so switching backends or kernels at run time is honoured. Set
 * `COVRL_FUSED=0` in the environment to ignore registered kernels.
 */
export function hasFusedKernel(name: FusedKernelName): boolean {
  if (typeof process !== 'undefined' && process.env['COVRL_FUSED'] === '0') return false;
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Runs a fused kernel (one output). */
export function runFused(
  name: FusedKernelName,
  inputs: NamedTensorMap,
  attrs?: NamedAttrMap,
): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
}

/** Runs a fused kernel with several outputs. */
export function runFusedMany(
  name: FusedKernelName,
  inputs: NamedTensorMap,
  attrs?: NamedAttrMap,
): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs) as unknown as tf.Tensor[];
}
