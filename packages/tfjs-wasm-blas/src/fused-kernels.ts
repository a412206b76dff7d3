/**
 * Fused kernels for the TF.js wasm backend that need no BLAS: a small WebAssembly module (SIMD128,
 * `native/fused-kernels.c`) instantiated on the backend's OWN memory, so it computes on tensors in
 * place of the heap with zero copies, plus two copy kernels written against the heap directly.
 *
 * Why: after the BLAS matmuls, a training step of a small GPT spends most of its remaining time in
 * the per-kernel overhead and memory passes of many small elementwise kernels (an AdamW update is
 * 13 kernels per parameter, a LayerNorm backward about 15, GELU's backward 10). One fused kernel
 * per formula does one pass over memory and pays the overhead once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { epilogueKernels, isWasmBackendLike, makeFusedMatMulKernel } from './blas-kernels.js';
import { FUSED_KERNELS_WASM_BASE64 } from './fused-kernels-wasm.js';
import type { WasmBackendLike } from './types.js';
import type { GemmExports } from './wasm-gemm.js';
import { makeGemmBatchMatMulKernel, makeSegmentSumKernel, wasmGemmProduct } from './wasm-gemm.js';

const BACKEND = 'wasm';

/**
 * Names of the fused kernels this module registers. They are a contract with their callers (for
 * example `@covrl/models`, which runs them through `tf.engine().runKernel` when the current backend
 * has them and otherwise computes the same formula with plain ops):
 *
 * | kernel | inputs | attrs | outputs |
 * | --- | --- | --- | --- |
 * | `CovrlAdamW` | `param`, `grad`, `m`, `v` (same shape) | `beta1`, `beta2`, `stepSize`, `epsHat`, `decay`, `applyDecay` | `[param', m', v']` |
 * | `CovrlLayerNorm` | `x [..., D]`, `weight [D]`, `bias [D]` | `epsilon` | `y` |
 * | `CovrlLayerNormGrad` | `dy`, `x`, `weight` | `epsilon` | `[dx, dWeight, dBias]` |
 * | `CovrlRmsNorm` | `x [..., D]`, `weight [D]` | `epsilon` | `y` |
 * | `CovrlRmsNormGrad` | `dy`, `x`, `weight` | `epsilon` | `[dx, dWeight]` |
 * | `CovrlGelu` | `x` | | `y` |
 * | `CovrlGeluGrad` | `dy`, `x` | | `dx` |
 * | `CovrlSiluGate` | `gate`, `up` | | `y` |
 * | `CovrlSiluGateGrad` | `dy`, `gate`, `up` | | `[dGate, dUp]` |
 * | `CovrlKvWrite` | `cache [B, H, T, hd]` or `[B, T]`, `update` (`B·H·hd` values) | `position` | `cache` (in place) |
 *
 * All float32. The formulas are documented on each C function in `native/fused-kernels.c`.
 * `CovrlKvWrite` is the one kernel that writes into an input: it stores `update[b, h, :]` at
 * `cache[b, h, position, :]` and returns a tensor sharing the cache's memory (a KV cache with a
 * fixed capacity, appended to in place by a decoding loop that owns it; a copying concat of the
 * whole cache per step took about a quarter of the kernel time of batch-64 sampling). It refuses
 * a cache whose memory is shared with another tensor (reference count above 1), so no clone or
 * view ever changes under its holder.
 */
export const FUSED_KERNEL_NAMES = [
  'CovrlAdamW',
  'CovrlLayerNorm',
  'CovrlLayerNormGrad',
  'CovrlRmsNorm',
  'CovrlRmsNormGrad',
  'CovrlGelu',
  'CovrlGeluGrad',
  'CovrlSiluGate',
  'CovrlSiluGateGrad',
  'CovrlKvWrite',
] as const;

/**
 * Stock wasm kernels replaced (originals kept as fallbacks): `Identity` and `GatherV2` by heap-copy
 * versions, `BatchMatMul` and `_FusedMatMul` by the module's SIMD128 GEMM (`wasm-gemm.ts`), the
 * latter two only while the BLAS engine does not serve them (see {@link enableWasmFusedKernels}).
 */
const REPLACED = ['Identity', 'GatherV2', 'BatchMatMul', '_FusedMatMul'] as const;
/** Kernels the stock wasm backend lacks, added: the scatter-add of `tf.gather`'s gradient. */
const ADDED = ['UnsortedSegmentSum'] as const;
/** The replaced kernels that belong to the BLAS engine when it is active. */
const MATMULS: readonly string[] = ['BatchMatMul', '_FusedMatMul'];

/** What {@link enableWasmFusedKernels} and {@link wasmFusedKernelsStatus} report. */
export interface WasmFusedKernelsStatus {
  readonly active: boolean;
  /** One sentence: what is registered, or why nothing is. */
  readonly reason: string;
  /**
   * True when this call left `BatchMatMul` and `_FusedMatMul` on the module's SIMD128 GEMM:
   * every transposed and batched product is then fast, so callers should pass transpose flags
   * (`@covrl/models`' `matMulGradient: 'flags'`) instead of transposing explicitly (the stock
   * wasm `Transpose` cost about as much as the products in a training step). Absent means false.
   */
  readonly gemm?: boolean;
}

/** The exports of the compiled module (pointers are byte offsets into the backend's memory). */
interface FusedExports extends GemmExports {
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    stepSize: number,
    epsHat: number,
    decay: number,
    applyDecay: number,
  ): void;
  gelu(x: number, y: number, n: number): void;
  gelu_grad(dy: number, x: number, dx: number, n: number): void;
  silu_gate(g: number, u: number, y: number, n: number): void;
  silu_gate_grad(dy: number, g: number, u: number, dg: number, du: number, n: number): void;
  layer_norm(
    x: number,
    w: number,
    b: number,
    y: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
  layer_norm_grad(
    dy: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    db: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
  rms_norm(x: number, w: number, y: number, rows: number, d: number, eps: number): void;
  rms_norm_grad(
    dy: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
}

interface State {
  installed: {
    originals: Map<string, KernelConfig>;
    replacements: Map<string, KernelFunc>;
    /** The kernel set asked for. */
    wanted: Set<string>;
    /** Matmul kernels asked for but left to the BLAS engine, active at the time. */
    deferred: string[];
  } | null;
  status: WasmFusedKernelsStatus;
}

// One state per process, like the BLAS engine's (one kernel registry per process).
const STATE_KEY = Symbol.for('@covrl/tfjs-wasm-blas/fused-state');
const slot = globalThis as { [STATE_KEY]?: State };
const state: State = (slot[STATE_KEY] ??= {
  installed: null,
  status: { active: false, reason: 'not enabled: call enableWasmFusedKernels()' },
});

/** The part of the `WebAssembly` global used here (the project's lib settings carry no DOM types). */
interface WasmMemoryLike {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
  readonly Memory: abstract new (...args: never[]) => WasmMemoryLike;
}
const wasmApi = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;
const instances = new WeakMap<WasmMemoryLike, FusedExports>();

/** The backend's `WebAssembly.Memory` (emscripten keeps it as `asm.memory` in tfjs-backend-wasm 4.x). */
function backendMemory(backend: WasmBackendLike): WasmMemoryLike {
  const module = backend.wasm as unknown as {
    asm?: { memory?: unknown };
    wasmMemory?: unknown;
  };
  for (const candidate of [module.asm?.memory, module.wasmMemory]) {
    if (candidate instanceof wasmApi.Memory && candidate.buffer === backend.wasm.HEAPU8.buffer) {
      return candidate;
    }
  }
  throw new Error(
    'covrl fused kernels: the wasm backend does not expose its WebAssembly.Memory (asm.memory); this tfjs-backend-wasm version is not supported',
  );
}

/** The fused module instantiated on `backend`'s memory (once per memory). */
function exportsFor(backend: WasmBackendLike): FusedExports {
  const memory = backendMemory(backend);
  let found = instances.get(memory);
  if (found === undefined) {
    compiled ??= new wasmApi.Module(decodeBase64(FUSED_KERNELS_WASM_BASE64));
    const instance = new wasmApi.Instance(compiled, { env: { memory } });
    found = instance.exports as unknown as FusedExports;
    instances.set(memory, found);
  }
  return found;
}

function offsetOf(backend: WasmBackendLike, t: TensorInfo, kernel: string, name: string): number {
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (offset == null) throw new Error(`${kernel}: input '${name}' has no data on the wasm heap`);
  return offset;
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((p, s) => p * s, 1);

/** The float32 inputs of a fused kernel, checked; errors name the kernel and the input. */
function floatInputs(
  kernel: string,
  inputs: Record<string, TensorInfo | undefined>,
  names: readonly string[],
): TensorInfo[] {
  return names.map((name) => {
    const t = inputs[name];
    if (t == null) throw new Error(`${kernel}: missing input '${name}'`);
    if (t.dtype !== 'float32') {
      throw new Error(`${kernel}: input '${name}' must be float32, got ${t.dtype}`);
    }
    return t;
  });
}

function sameShape(
  kernel: string,
  a: TensorInfo,
  b: TensorInfo,
  nameA: string,
  nameB: string,
): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(
      `${kernel}: '${nameB}' has shape [${b.shape.join(', ')}], '${nameA}' has [${a.shape.join(', ')}]`,
    );
  }
}

function numberAttr(
  kernel: string,
  attrs: Record<string, unknown> | undefined,
  name: string,
): number {
  const value = attrs?.[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${kernel}: attr '${name}' must be a finite number, got ${String(value)}`);
  }
  return value;
}

function wasmBackend(kernel: string, backend: unknown): WasmBackendLike {
  if (!isWasmBackendLike(backend)) throw new Error(`${kernel}: runs on the wasm backend only`);
  return backend;
}

/** Rows and width of a `[..., D]` tensor normalised over its last axis with a `[D]` weight. */
function normShape(kernel: string, x: TensorInfo, weight: TensorInfo): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1] ?? 0;
  if (x.shape.length < 1 || weight.shape.length !== 1 || weight.shape[0] !== d) {
    throw new Error(
      `${kernel}: 'weight' must have shape [${d}] for x [${x.shape.join(', ')}], got [${weight.shape.join(', ')}]`,
    );
  }
  return { rows: d === 0 ? 0 : sizeOf(x.shape) / d, d };
}

type Kernel = (args: {
  inputs: Record<string, TensorInfo | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}) => TensorInfo | TensorInfo[];

/** What a module kernel's `plan` returns: output shapes, and the call given every pointer. */
interface Plan {
  /** Output shapes, in the kernel's output order. */
  readonly outputs: readonly (readonly number[])[];
  /** Calls the module with the inputs' then the outputs' byte offsets, in order. */
  readonly call: (m: FusedExports, pointers: readonly number[]) => void;
}

/**
 * A kernel of the compiled module: checks its float32 inputs (`names`, in order), lets `plan`
 * validate shapes and attrs and describe the outputs, allocates them, and calls the module with
 * every tensor's byte offset. Errors name the kernel and the input or attr. One output is
 * returned as a tensor, several as an array.
 */
function moduleKernel(
  kernel: string,
  names: readonly string[],
  plan: (inputs: TensorInfo[], attrs: Record<string, unknown> | undefined) => Plan,
): Kernel {
  return ({ inputs, backend, attrs }) => {
    const be = wasmBackend(kernel, backend);
    const ins = floatInputs(kernel, inputs, names);
    const { outputs, call } = plan(ins, attrs);
    // Everything that can throw happens before the outputs exist, so an error leaks nothing.
    const module = exportsFor(be);
    const outs = outputs.map((shape) => be.makeOutput([...shape], 'float32'));
    const pointers = [
      ...ins.map((t, i) => offsetOf(be, t, kernel, names[i] as string)),
      ...outs.map((t) => offsetOf(be, t, kernel, 'out')),
    ];
    call(module, pointers);
    return outs.length === 1 ? (outs[0] as TensorInfo) : outs;
  };
}

/** The shape checks shared by the gradient kernels of a norm: `dy` like `x`, `weight` `[D]`. */
function normGradShape(kernel: string, [dy, x, w]: TensorInfo[]): { rows: number; d: number } {
  sameShape(kernel, x as TensorInfo, dy as TensorInfo, 'x', 'dy');
  return normShape(kernel, x as TensorInfo, w as TensorInfo);
}

const fusedKernels: Record<(typeof FUSED_KERNEL_NAMES)[number], Kernel> = {
  CovrlAdamW: moduleKernel('CovrlAdamW', ['param', 'grad', 'm', 'v'], ([p, g, m, v], attrs) => {
    const k = 'CovrlAdamW';
    const param = p as TensorInfo;
    sameShape(k, param, g as TensorInfo, 'param', 'grad');
    sameShape(k, param, m as TensorInfo, 'param', 'm');
    sameShape(k, param, v as TensorInfo, 'param', 'v');
    const beta1 = numberAttr(k, attrs, 'beta1');
    const beta2 = numberAttr(k, attrs, 'beta2');
    const stepSize = numberAttr(k, attrs, 'stepSize');
    const epsHat = numberAttr(k, attrs, 'epsHat');
    const decay = numberAttr(k, attrs, 'decay');
    const applyDecay = attrs?.['applyDecay'] === true ? 1 : 0;
    return {
      outputs: [param.shape, param.shape, param.shape],
      // 1 − β is computed in float64 and rounded to float32 at the call, as the unfused ops do
      // when they turn the JS number into a scalar tensor: the results are bit-identical.
      call: (mod, [pp, pg, pm, pv, po, mo, vo]) =>
        mod.adamw(
          pp as number,
          pg as number,
          pm as number,
          pv as number,
          po as number,
          mo as number,
          vo as number,
          sizeOf(param.shape),
          beta1,
          1 - beta1,
          beta2,
          1 - beta2,
          stepSize,
          epsHat,
          decay,
          applyDecay,
        ),
    };
  }),
  CovrlLayerNorm: moduleKernel('CovrlLayerNorm', ['x', 'weight', 'bias'], ([x, w, b], attrs) => {
    const k = 'CovrlLayerNorm';
    const { rows, d } = normShape(k, x as TensorInfo, w as TensorInfo);
    sameShape(k, w as TensorInfo, b as TensorInfo, 'weight', 'bias');
    const eps = numberAttr(k, attrs, 'epsilon');
    return {
      outputs: [(x as TensorInfo).shape],
      call: (mod, [px, pw, pb, py]) =>
        mod.layer_norm(px as number, pw as number, pb as number, py as number, rows, d, eps),
    };
  }),
  CovrlLayerNormGrad: moduleKernel('CovrlLayerNormGrad', ['dy', 'x', 'weight'], (ins, attrs) => {
    const k = 'CovrlLayerNormGrad';
    const { rows, d } = normGradShape(k, ins);
    const eps = numberAttr(k, attrs, 'epsilon');
    return {
      outputs: [(ins[1] as TensorInfo).shape, [d], [d]],
      call: (mod, [pdy, px, pw, pdx, pdw, pdb]) =>
        mod.layer_norm_grad(
          pdy as number,
          px as number,
          pw as number,
          pdx as number,
          pdw as number,
          pdb as number,
          rows,
          d,
          eps,
        ),
    };
  }),
  CovrlRmsNorm: moduleKernel('CovrlRmsNorm', ['x', 'weight'], ([x, w], attrs) => {
    const k = 'CovrlRmsNorm';
    const { rows, d } = normShape(k, x as TensorInfo, w as TensorInfo);
    const eps = numberAttr(k, attrs, 'epsilon');
    return {
      outputs: [(x as TensorInfo).shape],
      call: (mod, [px, pw, py]) =>
        mod.rms_norm(px as number, pw as number, py as number, rows, d, eps),
    };
  }),
  CovrlRmsNormGrad: moduleKernel('CovrlRmsNormGrad', ['dy', 'x', 'weight'], (ins, attrs) => {
    const k = 'CovrlRmsNormGrad';
    const { rows, d } = normGradShape(k, ins);
    const eps = numberAttr(k, attrs, 'epsilon');
    return {
      outputs: [(ins[1] as TensorInfo).shape, [d]],
      call: (mod, [pdy, px, pw, pdx, pdw]) =>
        mod.rms_norm_grad(
          pdy as number,
          px as number,
          pw as number,
          pdx as number,
          pdw as number,
          rows,
          d,
          eps,
        ),
    };
  }),
  CovrlGelu: moduleKernel('CovrlGelu', ['x'], ([x]) => ({
    outputs: [(x as TensorInfo).shape],
    call: (mod, [px, py]) => mod.gelu(px as number, py as number, sizeOf((x as TensorInfo).shape)),
  })),
  CovrlGeluGrad: moduleKernel('CovrlGeluGrad', ['dy', 'x'], ([dy, x]) => {
    sameShape('CovrlGeluGrad', x as TensorInfo, dy as TensorInfo, 'x', 'dy');
    const n = sizeOf((x as TensorInfo).shape);
    return {
      outputs: [(x as TensorInfo).shape],
      call: (mod, [pdy, px, pdx]) => mod.gelu_grad(pdy as number, px as number, pdx as number, n),
    };
  }),
  CovrlSiluGate: moduleKernel('CovrlSiluGate', ['gate', 'up'], ([g, u]) => {
    sameShape('CovrlSiluGate', g as TensorInfo, u as TensorInfo, 'gate', 'up');
    const n = sizeOf((g as TensorInfo).shape);
    return {
      outputs: [(g as TensorInfo).shape],
      call: (mod, [pg, pu, py]) => mod.silu_gate(pg as number, pu as number, py as number, n),
    };
  }),
  CovrlSiluGateGrad: moduleKernel('CovrlSiluGateGrad', ['dy', 'gate', 'up'], ([dy, g, u]) => {
    const k = 'CovrlSiluGateGrad';
    sameShape(k, g as TensorInfo, u as TensorInfo, 'gate', 'up');
    sameShape(k, g as TensorInfo, dy as TensorInfo, 'gate', 'dy');
    const shape = (g as TensorInfo).shape;
    return {
      outputs: [shape, shape],
      call: (mod, [pdy, pg, pu, pdg, pdu]) =>
        mod.silu_gate_grad(
          pdy as number,
          pg as number,
          pu as number,
          pdg as number,
          pdu as number,
          sizeOf(shape),
        ),
    };
  }),
  CovrlKvWrite: kvWrite,
};

/** The in-place KV-cache write of {@link FUSED_KERNEL_NAMES} (`CovrlKvWrite`). */
function kvWrite({ inputs, backend, attrs }: Parameters<Kernel>[0]): TensorInfo {
  const k = 'CovrlKvWrite';
  const be = wasmBackend(k, backend);
  const [cache, update] = floatInputs(k, inputs, ['cache', 'update']) as [TensorInfo, TensorInfo];
  const position = attrs?.['position'];
  if (cache.shape.length !== 4 && cache.shape.length !== 2) {
    throw new Error(
      `${k}: 'cache' must be [B, H, T, hd] (or [B, T] for one value per position), got [${cache.shape.join(', ')}]`,
    );
  }
  const [B, H, T, hd] = (
    cache.shape.length === 2 ? [cache.shape[0], 1, cache.shape[1], 1] : cache.shape
  ) as [number, number, number, number];
  if (
    typeof position !== 'number' ||
    !Number.isInteger(position) ||
    position < 0 ||
    position >= T
  ) {
    throw new Error(
      `${k}: attr 'position' must be an integer in [0, ${T}), got ${String(position)}`,
    );
  }
  if (sizeOf(update.shape) !== B * H * hd) {
    throw new Error(
      `${k}: 'update' must hold B·H·hd = ${B * H * hd} values, got [${update.shape.join(', ')}]`,
    );
  }
  // Writing in place is only sound when no other tensor shares the block: a clone (zero-copy
  // Identity), a reshape view or a tensor saved for a backward pass would change with it.
  const owners = be.dataIdMap.get(cache.dataId)?.refCount ?? 1;
  if (owners !== 1) {
    throw new Error(
      `${k}: the cache's memory is shared by ${owners} tensors (a clone, a reshape view or a saved tensor); it can only be written in place by its single owner`,
    );
  }
  const heap = be.wasm.HEAPU8;
  const dst = offsetOf(be, cache, k, 'cache') + position * hd * 4;
  const src = offsetOf(be, update, k, 'update');
  const row = hd * 4;
  for (let bh = 0; bh < B * H; bh++) {
    heap.copyWithin(dst + bh * T * row, src + bh * row, src + (bh + 1) * row);
  }
  (be as unknown as { incRef(dataId: unknown): void }).incRef(cache.dataId);
  return { dataId: cache.dataId, shape: [...cache.shape], dtype: cache.dtype };
}

const BYTES: Partial<Record<DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/**
 * `Identity` without a copy: the output shares the input's heap block (reference-counted by the
 * backend, as `Reshape` already does). Sharing is safe because no kernel writes into a block
 * another tensor holds: the stock wasm kernels never write into their inputs, and the one kernel
 * here that does, `CovrlKvWrite`, refuses a block with more than one owner. The stock kernel
 * copies, and `tf.customGrad` runs `Identity` on every tensor it saves for the backward pass (168
 * copies in one step of the reference model).
 */
function makeIdentity(original: KernelFunc): KernelFunc {
  return (params) => {
    const x = params.inputs['x'];
    const backend = params.backend as { incRef?: (id: unknown) => void };
    if (x == null || x.dtype === 'string' || typeof backend.incRef !== 'function') {
      return original(params);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/**
 * `GatherV2` (`batchDims` 0) as one contiguous block copy per index (`copyWithin` on the heap): the
 * stock wasm kernel walks elements one by one (a row gather of [2032, 128] took about 4 ms). Indices
 * out of range, other dtypes and `batchDims` > 0 go to the original kernel, so its behaviour there
 * is unchanged.
 */
function makeGather(original: KernelFunc): KernelFunc {
  return (params) => {
    const { inputs, backend, attrs } = params;
    const x = inputs['x'];
    const indices = inputs['indices'];
    const bytes = x == null ? undefined : BYTES[x.dtype];
    const batchDims = attrs?.['batchDims'] ?? 0;
    const rawAxis = attrs?.['axis'];
    if (
      x == null ||
      indices == null ||
      bytes === undefined ||
      indices.dtype !== 'int32' ||
      batchDims !== 0 ||
      typeof rawAxis !== 'number' ||
      !isWasmBackendLike(backend)
    ) {
      return original(params);
    }
    const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
    const n = x.shape[axis];
    if (n === undefined || axis < 0) return original(params);
    const count = sizeOf(indices.shape);
    const xOffset = backend.dataIdMap.get(x.dataId)?.memoryOffset;
    const iOffset = backend.dataIdMap.get(indices.dataId)?.memoryOffset;
    if (xOffset == null || iOffset == null) return original(params);
    const idx = new Int32Array(backend.wasm.HEAPU8.buffer, iOffset, count);
    for (let i = 0; i < count; i++) {
      const id = idx[i] as number;
      if (!(id >= 0 && id < n)) return original(params);
    }
    const outer = sizeOf(x.shape.slice(0, axis));
    const innerBytes = sizeOf(x.shape.slice(axis + 1)) * bytes;
    const out = backend.makeOutput(
      [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)],
      x.dtype,
    );
    // Views are taken after makeOutput: an allocation can grow the heap and detach old buffers.
    const heap = backend.wasm.HEAPU8;
    const indexView = new Int32Array(heap.buffer, iOffset, count);
    const outOffset = backend.dataIdMap.get(out.dataId)?.memoryOffset ?? 0;
    for (let o = 0; o < outer; o++) {
      const src = xOffset + o * n * innerBytes;
      const dst = outOffset + o * count * innerBytes;
      for (let i = 0; i < count; i++) {
        const from = src + (indexView[i] as number) * innerBytes;
        heap.copyWithin(dst + i * innerBytes, from, from + innerBytes);
      }
    }
    return out;
  };
}

/**
 * A kernel this module can register or replace: one of {@link FUSED_KERNEL_NAMES}, `Identity`,
 * `GatherV2`, `BatchMatMul`, `_FusedMatMul` or `UnsortedSegmentSum`.
 */
export type WasmFusedKernelName =
  (typeof FUSED_KERNEL_NAMES)[number] | (typeof REPLACED)[number] | (typeof ADDED)[number];

/** Options of {@link enableWasmFusedKernels}. */
export interface WasmFusedKernelsOptions {
  /**
   * Which kernels to register or replace; default all of {@link FUSED_KERNEL_NAMES} plus
   * `Identity`, `GatherV2`, `BatchMatMul`, `_FusedMatMul` and `UnsortedSegmentSum`. A subset is
   * for measuring what each one pays (the benchmark's ablation), for leaving one out (for example
   * the SIMD128 GEMM, to compare it with the stock matmuls) or for tests; a `*Grad` kernel
   * without its forward is allowed.
   */
  readonly kernels?: readonly WasmFusedKernelName[];
}

const ALL_KERNELS: readonly WasmFusedKernelName[] = [...FUSED_KERNEL_NAMES, ...REPLACED, ...ADDED];

/**
 * Whether the BLAS engine currently serves the wasm matmuls (then the GEMM stays out): its
 * `BatchMatMul` is the registered one. Read from the engine's per-process state slot rather than
 * by importing `enable-wasm-blas.ts`, which loads `node:fs`, so this file stays free of Node APIs.
 */
function blasServesMatMul(): boolean {
  const slot = globalThis as { [key: symbol]: unknown };
  const blas = slot[Symbol.for('@covrl/tfjs-wasm-blas/state')] as
    { installed: { replacements: ReadonlyMap<string, unknown> } | null } | undefined;
  const ours = blas?.installed?.replacements.get('BatchMatMul');
  const current = tf.getKernel('BatchMatMul', BACKEND) as KernelConfig | undefined;
  return ours !== undefined && current?.kernelFunc === ours;
}

/** `COVRL_FUSED` from the environment in Node; undefined in a browser (no `process`). */
function fusedEnv(): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.['COVRL_FUSED'];
}

/** Bytes of a base64 string with Node's `Buffer` or, in a browser, `atob`. */
function decodeBase64(text: string): Uint8Array {
  const scope = globalThis as {
    Buffer?: { from(data: string, encoding: 'base64'): Uint8Array };
    atob?: (data: string) => string;
  };
  if (scope.Buffer !== undefined) return scope.Buffer.from(text, 'base64');
  if (scope.atob === undefined) {
    throw new Error(
      'covrl fused kernels: neither Buffer nor atob is available to decode the module',
    );
  }
  const binary = scope.atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Registers the fused kernels of {@link FUSED_KERNEL_NAMES} on the wasm backend, replaces its
 * `Identity` (by a zero-copy one), `GatherV2` (by block copies), `BatchMatMul` and `_FusedMatMul`
 * (by the module's SIMD128 GEMM: both transposes and batch broadcasting in the kernel, see
 * `wasmGemmBatchMatMul`), and adds `UnsortedSegmentSum` (so `tf.gather` has a gradient on wasm,
 * O(ids·inner) instead of a one-hot product). The replaced originals are kept for what the new
 * ones decline and for {@link disableWasmFusedKernels}. Needs no BLAS: it works wherever the wasm
 * backend does.
 *
 * The GEMM is the path for machines without a system CBLAS: while {@link enableWasmBlas} is
 * active, `BatchMatMul` and `_FusedMatMul` are left to it (the status says so); enabled after
 * this call, the BLAS kernels wrap the GEMM ones and fall back to them. After
 * {@link disableWasmBlas}, calling this again installs the GEMM kernels that were left out.
 *
 * Idempotent for the same kernel set; another set replaces the current one. Declines (and says
 * why) when the environment has `COVRL_FUSED=0` or when the wasm backend package has not been
 * imported. The fused module is compiled on first use and instantiated once per backend memory.
 * @throws Error naming an unknown kernel in `options.kernels`.
 */
export function enableWasmFusedKernels(
  options: WasmFusedKernelsOptions = {},
): WasmFusedKernelsStatus {
  const wanted = options.kernels ?? ALL_KERNELS;
  for (const name of wanted) {
    if (!ALL_KERNELS.includes(name)) {
      throw new Error(
        `enableWasmFusedKernels: unknown kernel '${String(name)}' in options.kernels; known: ${ALL_KERNELS.join(', ')}`,
      );
    }
  }
  if (fusedEnv() === '0') {
    disableWasmFusedKernels();
    state.status = {
      active: false,
      reason: 'disabled by COVRL_FUSED=0: the stock wasm kernels run',
    };
    return state.status;
  }
  const blasActive = blasServesMatMul();
  const installed = state.installed;
  if (installed !== null) {
    const same =
      installed.wanted.size === new Set(wanted).size &&
      wanted.every((name) => installed.wanted.has(name)) &&
      (installed.deferred.length === 0 || blasActive);
    if (same) return state.status;
    disableWasmFusedKernels();
  }
  const originals = new Map<string, KernelConfig>();
  for (const name of REPLACED) {
    const config = tf.getKernel(name, BACKEND) as KernelConfig | undefined;
    if (config === undefined) {
      state.status = {
        active: false,
        reason: `the wasm backend is not registered (no ${name} kernel): import @tensorflow/tfjs-backend-wasm first`,
      };
      return state.status;
    }
    originals.set(name, config);
  }
  const epilogue = epilogueKernels();
  const makers: Record<(typeof REPLACED)[number], (original: KernelFunc) => KernelFunc | null> = {
    Identity: makeIdentity,
    GatherV2: makeGather,
    BatchMatMul: (original) => makeGemmBatchMatMulKernel({ getModule: exportsFor, original }),
    _FusedMatMul: (original) =>
      epilogue === null
        ? null
        : makeFusedMatMulKernel({ product: wasmGemmProduct(exportsFor), original, epilogue }),
  };
  const replacements = new Map<string, KernelFunc>();
  const deferred: string[] = [];
  for (const name of REPLACED) {
    if (!wanted.includes(name)) continue;
    if (MATMULS.includes(name) && blasActive) {
      deferred.push(name);
      continue;
    }
    const original = originals.get(name) as KernelConfig;
    const kernelFunc = makers[name](original.kernelFunc);
    if (kernelFunc === null) continue;
    replacements.set(name, kernelFunc);
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc,
      ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
      ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    });
  }
  const added: Record<(typeof ADDED)[number], KernelFunc> = {
    UnsortedSegmentSum: makeSegmentSumKernel(exportsFor),
  };
  for (const name of [...FUSED_KERNEL_NAMES, ...ADDED]) {
    if (!wanted.includes(name)) continue;
    if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
    const kernelFunc =
      name === 'UnsortedSegmentSum' ? added[name] : (fusedKernels[name] as unknown as KernelFunc);
    replacements.set(name, kernelFunc);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
  }
  state.installed = { originals, replacements, wanted: new Set(wanted), deferred };
  const registered = [...FUSED_KERNEL_NAMES, ...ADDED].filter((name) => replacements.has(name));
  const labels: Record<(typeof REPLACED)[number], string> = {
    Identity: 'Identity (zero-copy)',
    GatherV2: 'GatherV2 (block copies)',
    BatchMatMul: 'BatchMatMul (SIMD128 GEMM)',
    _FusedMatMul: '_FusedMatMul (SIMD128 GEMM)',
  };
  const replaced = REPLACED.filter((name) => replacements.has(name)).map((name) => labels[name]);
  const parts = [
    registered.length > 0 ? `${registered.join(', ')} registered` : '',
    replaced.length > 0 ? `${replaced.join(', ')} replaced` : '',
    deferred.length > 0 ? `${deferred.join(' and ')} left to the active BLAS engine` : '',
  ].filter((part) => part !== '');
  state.status = {
    active: replacements.size > 0,
    gemm: replacements.has('BatchMatMul'),
    reason:
      replacements.size === 0
        ? deferred.length > 0
          ? `${parts.join('; ')}; nothing else asked for`
          : 'no kernel asked for (options.kernels is empty)'
        : `${parts.join('; ')} on the wasm backend`,
  };
  return state.status;
}

/**
 * Unregisters the fused kernels and restores the original `Identity` and `GatherV2` (a kernel
 * re-registered by someone else since is left alone). Idempotent.
 */
export function disableWasmFusedKernels(): WasmFusedKernelsStatus {
  const installed = state.installed;
  if (installed === null) return state.status;
  for (const [name, kernelFunc] of installed.replacements) {
    const current = tf.getKernel(name, BACKEND) as KernelConfig | undefined;
    if (current?.kernelFunc !== kernelFunc) continue;
    tf.unregisterKernel(name, BACKEND);
    const original = installed.originals.get(name);
    if (original !== undefined) tf.registerKernel(original);
  }
  state.installed = null;
  state.status = { active: false, reason: 'disabled by disableWasmFusedKernels()' };
  return state.status;
}

/** Whether the fused kernels are registered, and why (see {@link enableWasmFusedKernels}). */
export function wasmFusedKernelsStatus(): WasmFusedKernelsStatus {
  return state.status;
}
