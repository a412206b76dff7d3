import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { blasBatchMatMul } from './blas-batch-mat-mul.js';
import { blasReduce } from './blas-reduce.js';
import type { Sgemm, Sgemv, WasmBackendLike } from './types.js';

/** Settings the BLAS kernels read on every call (mutable so `enableWasmBlas` can retune them). */
export interface BlasKernelSettings {
  readonly sgemm: Sgemm;
  readonly sgemv: Sgemv;
  minFlops: number;
}

/** The wasm kernels that `_FusedMatMul`'s epilogue (bias add, activation) runs on. */
export interface EpilogueKernels {
  readonly add: KernelFunc;
  readonly relu: KernelFunc;
  readonly relu6: KernelFunc;
  readonly elu: KernelFunc;
  readonly leakyRelu: KernelFunc;
  readonly prelu: KernelFunc;
  readonly sigmoid: KernelFunc;
}

/** Narrows the kernel's `backend: {}` to the wasm backend fields the kernels use. */
export function isWasmBackendLike(backend: unknown): backend is WasmBackendLike {
  if (typeof backend !== 'object' || backend === null) return false;
  const candidate = backend as Partial<WasmBackendLike>;
  return (
    candidate.wasm?.HEAPU8 instanceof Uint8Array &&
    typeof candidate.dataIdMap?.get === 'function' &&
    typeof candidate.makeOutput === 'function' &&
    typeof candidate.disposeData === 'function'
  );
}

/**
 * The BLAS `BatchMatMul` kernel: {@link blasBatchMatMul} with attrs `transposeA`, `transposeB`;
 * whatever it declines (see there) runs through `original`, the wasm backend's own kernel.
 */
export function makeBlasBatchMatMulKernel({
  settings,
  original,
}: {
  readonly settings: BlasKernelSettings;
  readonly original: KernelFunc;
}): KernelFunc {
  return makeBatchMatMulKernel({
    original,
    product: (args) =>
      blasBatchMatMul({ ...args, sgemm: settings.sgemm, minFlops: settings.minFlops }),
  });
}

/**
 * A `BatchMatMul` kernel around any {@link MatMulProduct} (the BLAS one, or the module's SIMD128
 * GEMM): `op(A)·op(B)` with attrs `transposeA`, `transposeB`; whatever the product declines runs
 * through `original`, the wasm backend's own kernel.
 */
export function makeBatchMatMulKernel({
  product,
  original,
}: {
  readonly product: MatMulProduct;
  readonly original: KernelFunc;
}): KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const a = inputs['a'];
    const b = inputs['b'];
    if (a !== undefined && b !== undefined && isWasmBackendLike(backend)) {
      const out = product({
        backend,
        a,
        b,
        transposeA: attrs?.['transposeA'] === true,
        transposeB: attrs?.['transposeB'] === true,
      });
      if (out !== null) return out;
    }
    return original(params);
  };
}

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;
type Activation = (typeof ACTIVATIONS)[number];

function isActivation(value: unknown): value is Activation {
  return typeof value === 'string' && (ACTIVATIONS as readonly string[]).includes(value);
}

/**
 * The BLAS `_FusedMatMul` kernel: `activation(op(A)·op(B) + bias)` with the product from
 * {@link blasBatchMatMul}. A bias of `n` values (shape `[n]`, `[1, n]`...) is written into the
 * output before sgemm (beta = 1; the wasm broadcast Add of [2048,512] + [512] took 3.1 ms); any
 * other broadcastable bias is added by the wasm `Add` kernel. Then the wasm kernel of the
 * activation's name applies it: linear, relu, relu6, elu, leakyrelu (attr `leakyreluAlpha`, 0 when absent, as the
 * original kernel), prelu (input `preluActivationWeights`), sigmoid. Intermediates are freed with
 * `disposeData` at once. Unknown activations, prelu without weights, and products the matmul
 * declines run through `original`.
 */
export function makeBlasFusedMatMulKernel({
  settings,
  original,
  epilogue,
}: {
  readonly settings: BlasKernelSettings;
  readonly original: KernelFunc;
  readonly epilogue: EpilogueKernels;
}): KernelFunc {
  return makeFusedMatMulKernel({
    original,
    epilogue,
    product: (args) =>
      blasBatchMatMul({ ...args, sgemm: settings.sgemm, minFlops: settings.minFlops }),
  });
}

/**
 * The product half of a `_FusedMatMul` kernel: `op(A)·op(B)` (+ a bias of `n` values added to
 * every row when `rowBias` is given) as a new tensor on the wasm heap, or null to decline (the
 * caller then runs the original kernel).
 */
export type MatMulProduct = (args: {
  readonly backend: WasmBackendLike;
  readonly a: TensorInfo;
  readonly b: TensorInfo;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly rowBias?: TensorInfo;
}) => TensorInfo | null;

/**
 * A `_FusedMatMul` kernel around any {@link MatMulProduct} (the BLAS one, or the module's SIMD128
 * GEMM): the product with a row bias folded in, then any other broadcastable bias by the wasm
 * `Add` kernel and the activation by the wasm kernel of its name (see
 * {@link makeBlasFusedMatMulKernel} for the list). What the product declines runs through
 * `original`.
 */
export function makeFusedMatMulKernel({
  product: matMulProduct,
  original,
  epilogue,
}: {
  readonly product: MatMulProduct;
  readonly original: KernelFunc;
  readonly epilogue: EpilogueKernels;
}): KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const a = inputs['a'];
    const b = inputs['b'];
    const bias = inputs['bias'];
    const preluWeights = inputs['preluActivationWeights'];
    const activation = attrs?.['activation'] ?? 'linear';
    if (
      a === undefined ||
      b === undefined ||
      !isWasmBackendLike(backend) ||
      !isActivation(activation) ||
      (activation === 'prelu' && preluWeights == null)
    ) {
      return original(params);
    }
    const transposeB = attrs?.['transposeB'] === true;
    // A bias that only varies along the output's last dim (shape [n], [1, n]...) is written
    // into the output before sgemm (beta = 1); any other broadcastable bias goes through Add.
    const n = b.shape[b.shape.length - (transposeB ? 2 : 1)] ?? 0;
    const rowBias =
      bias != null &&
      bias.dtype === 'float32' &&
      bias.shape[bias.shape.length - 1] === n &&
      bias.shape.reduce((p, s) => p * s, 1) === n &&
      bias.shape.length <= Math.max(a.shape.length, b.shape.length)
        ? bias
        : undefined;
    const product = matMulProduct({
      backend,
      a,
      b,
      transposeA: attrs?.['transposeA'] === true,
      transposeB,
      ...(rowBias === undefined ? {} : { rowBias }),
    });
    if (product === null) return original(params);
    let current = product;
    const step = (
      kernel: KernelFunc,
      extra: Record<string, TensorInfo>,
      kernelAttrs?: NamedAttrMap,
    ): void => {
      const next = single(
        kernel({
          inputs: { x: current, ...extra },
          backend,
          ...(kernelAttrs ? { attrs: kernelAttrs } : {}),
        }),
      );
      if (next.dataId !== current.dataId) backend.disposeData(current.dataId);
      current = next;
    };
    if (bias != null && rowBias === undefined) {
      const summed = single(epilogue.add({ inputs: { a: current, b: bias }, backend }));
      if (summed.dataId !== current.dataId) backend.disposeData(current.dataId);
      current = summed;
    }
    switch (activation) {
      case 'linear':
        break;
      case 'relu':
        step(epilogue.relu, {});
        break;
      case 'relu6':
        step(epilogue.relu6, {});
        break;
      case 'elu':
        step(epilogue.elu, {});
        break;
      case 'sigmoid':
        step(epilogue.sigmoid, {});
        break;
      case 'leakyrelu': {
        const alpha = attrs?.['leakyreluAlpha'];
        step(epilogue.leakyRelu, {}, { alpha: typeof alpha === 'number' ? alpha : 0 });
        break;
      }
      case 'prelu':
        if (preluWeights != null) step(epilogue.prelu, { alpha: preluWeights });
        break;
    }
    return current;
  };
}

function single(result: TensorInfo | TensorInfo[]): TensorInfo {
  if (Array.isArray(result)) {
    const first = result[0];
    if (first === undefined) throw new Error('blas _FusedMatMul: epilogue kernel returned nothing');
    return first;
  }
  return result;
}

/**
 * The BLAS `Sum` (or, with `mean`, `Mean`) kernel: {@link blasReduce} with attrs `axis`,
 * `keepDims`; whatever it declines (non-float32, non-contiguous axes...) runs through `original`.
 */
export function makeBlasReduceKernel({
  settings,
  original,
  mean,
}: {
  readonly settings: BlasKernelSettings;
  readonly original: KernelFunc;
  readonly mean: boolean;
}): KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const x = inputs['x'];
    const axis = attrs?.['axis'];
    const validAxis =
      typeof axis === 'number' ||
      (Array.isArray(axis) && axis.every((a): a is number => typeof a === 'number'));
    if (x !== undefined && validAxis && isWasmBackendLike(backend)) {
      const out = blasReduce({
        backend,
        x,
        axis: axis as number | number[],
        keepDims: attrs?.['keepDims'] === true,
        mean,
        sgemv: settings.sgemv,
      });
      if (out !== null) return out;
    }
    return original(params);
  };
}

/**
 * The wasm backend's registered `Add`, `Relu`, `Relu6`, `Elu`, `LeakyRelu`, `Prelu` and `Sigmoid`
 * kernels (the `_FusedMatMul` epilogue), or null when any is missing (backend not imported).
 */
export function epilogueKernels(): EpilogueKernels | null {
  const get = (name: string): KernelFunc | undefined =>
    (tf.getKernel(name, 'wasm') as KernelConfig | undefined)?.kernelFunc;
  const add = get('Add');
  const relu = get('Relu');
  const relu6 = get('Relu6');
  const elu = get('Elu');
  const leakyRelu = get('LeakyRelu');
  const prelu = get('Prelu');
  const sigmoid = get('Sigmoid');
  if (!add || !relu || !relu6 || !elu || !leakyRelu || !prelu || !sigmoid) return null;
  return { add, relu, relu6, elu, leakyRelu, prelu, sigmoid };
}
