import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import type { BlasKernelSettings } from './blas-kernels.js';
import {
  epilogueKernels,
  makeBlasBatchMatMulKernel,
  makeBlasFusedMatMulKernel,
  makeBlasReduceKernel,
} from './blas-kernels.js';
import type { LoadedBlas } from './load-blas.js';
import { loadBlas } from './load-blas.js';
import type { WasmBlasLibraryInfo, WasmBlasOptions, WasmBlasStatus } from './types.js';

const BACKEND = 'wasm';
const BATCH_MAT_MUL = 'BatchMatMul';
const FUSED_MAT_MUL = '_FusedMatMul';
const REDUCTIONS = [
  ['Sum', false],
  ['Mean', true],
] as const;

interface Installed {
  readonly settings: BlasKernelSettings;
  /** Original wasm configs by kernel name, to fall back to and to restore. */
  readonly originals: ReadonlyMap<string, KernelConfig>;
  /** Our kernel functions by kernel name, to recognise them in the registry. */
  readonly replacements: ReadonlyMap<string, KernelFunc>;
  readonly blas: WasmBlasLibraryInfo;
  readonly reductions: boolean;
}

interface State {
  installed: Installed | null;
  status: WasmBlasStatus;
}

// One state per process even if the package is loaded twice (src and dist, two bundles): the
// kernel registry it mirrors is per process too (one tfjs-core per process, a peer dependency).
const STATE_KEY = Symbol.for('@covrl/tfjs-wasm-blas/state');
const globalSlot = globalThis as { [STATE_KEY]?: State };
const state: State = (globalSlot[STATE_KEY] ??= {
  installed: null,
  status: { active: false, reason: 'not enabled: call enableWasmBlas()' },
});

/**
 * Makes the TF.js wasm backend run `BatchMatMul` and `_FusedMatMul` on a native CBLAS `sgemm`
 * (OpenBLAS through the optional `nblas` binding) that reads and writes the backend's own heap
 * with zero copies. Every matmul on the wasm backend goes through it, transposed and batched
 * forms included, hence also `tf.matMul`'s gradient (which uses the transpose flags): measured
 * 20 → 155 GFLOP/s for `[2048,128]·[128,512]` and 1–2 → 153 GFLOP/s transposed on 2 Zen 4 cores
 * (design doc compute.md, "Native GEMM on the wasm heap"). Gradient definitions are unchanged.
 *
 * With `reductions` (default true) the wasm `Sum` and `Mean` kernels are replaced too: float32
 * reductions over one contiguous block of axes become `sgemv` against a ones vector instead of a
 * transpose plus a reduction (bias gradients: 7.9 ms → 0.09 ms for axis 0 of [2048,512]).
 *
 * Unregisters the wasm kernels and registers BLAS-backed ones that keep the originals and call
 * them for what they decline (non-float32, products below `minFlops`, unknown activations...).
 * Idempotent: when already active with the same kernel set, only `minFlops` is updated. The
 * backend need not be current or initialised; the wasm backend package must have been imported
 * (its kernels registered).
 *
 * Declines, leaving the stock kernels and saying why in `reason`, when: the environment has
 * `COVRL_BLAS=0` (an active engine is then disabled), `forceUnavailable` is set, `nblas` is not
 * installed or fails to load, the wasm kernels are not registered, or the BLAS is the reference
 * implementation or slower than `minProbeGflops` on a 256³ sgemm (unless `allowReferenceBlas`).
 *
 * @param options - see {@link WasmBlasOptions}; validated (throws on a bad value).
 * @returns the new {@link WasmBlasStatus}, also returned later by {@link wasmBlasStatus}.
 */
export function enableWasmBlas(options: WasmBlasOptions = {}): WasmBlasStatus {
  const { threads, minFlops = 0, allowReferenceBlas = false, minProbeGflops = 5 } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    throw new Error(`enableWasmBlas: threads must be a positive integer, got ${threads}`);
  }
  if (!(Number.isFinite(minFlops) && minFlops >= 0)) {
    throw new Error(`enableWasmBlas: minFlops must be a finite number >= 0, got ${minFlops}`);
  }
  if (!(Number.isFinite(minProbeGflops) && minProbeGflops >= 0)) {
    throw new Error(
      `enableWasmBlas: minProbeGflops must be a finite number >= 0, got ${minProbeGflops}`,
    );
  }
  if (process.env['COVRL_BLAS'] === '0') {
    return decline('disabled by COVRL_BLAS=0: the stock wasm kernels run');
  }
  if (options.forceUnavailable === true) {
    return decline('forceUnavailable: the stock wasm kernels run');
  }
  const loaded = loadBlas(threads === undefined ? {} : { threads });
  if (E.isLeft(loaded)) return decline(loaded.left);
  const blas = libraryInfo(loaded.right);
  const note = loaded.right.threadsNote === undefined ? '' : `; ${loaded.right.threadsNote}`;

  const slow = loaded.right.kind === 'reference' || loaded.right.probeGflops < minProbeGflops;
  if (slow && !allowReferenceBlas) {
    const what =
      loaded.right.kind === 'reference'
        ? `${loaded.right.library} is the reference BLAS`
        : `the BLAS (${loaded.right.library}) ran a 256³ sgemm at ${loaded.right.probeGflops.toFixed(1)} GFLOP/s < ${minProbeGflops}`;
    return decline(
      `${what}: install an optimized one (apt-get install libopenblas-dev, then rebuild nblas) or pass allowReferenceBlas: true`,
      blas,
    );
  }

  const reductions = options.reductions !== false;
  if (state.installed !== null && state.installed.reductions !== reductions) {
    restore(state.installed); // a different kernel set was asked for: reinstall below
    state.installed = null;
  }
  if (state.installed !== null) {
    state.installed.settings.minFlops = minFlops;
    state.status = { active: true, reason: activeReason(state.installed) + note, blas };
    return state.status;
  }

  const batchMatMul = tf.getKernel(BATCH_MAT_MUL, BACKEND) as KernelConfig | undefined;
  if (batchMatMul === undefined) {
    return decline(
      'the wasm backend is not registered: import @tensorflow/tfjs-backend-wasm before enableWasmBlas()',
      blas,
    );
  }
  const settings: BlasKernelSettings = {
    sgemm: loaded.right.sgemm,
    sgemv: loaded.right.sgemv,
    minFlops,
  };
  const originals = new Map<string, KernelConfig>([[BATCH_MAT_MUL, batchMatMul]]);
  const replacements = new Map<string, KernelFunc>([
    [BATCH_MAT_MUL, makeBlasBatchMatMulKernel({ settings, original: batchMatMul.kernelFunc })],
  ]);
  const fused = tf.getKernel(FUSED_MAT_MUL, BACKEND) as KernelConfig | undefined;
  const epilogue = epilogueKernels();
  if (fused !== undefined && epilogue !== null) {
    originals.set(FUSED_MAT_MUL, fused);
    replacements.set(
      FUSED_MAT_MUL,
      makeBlasFusedMatMulKernel({ settings, original: fused.kernelFunc, epilogue }),
    );
  }
  if (reductions) {
    for (const [kernelName, mean] of REDUCTIONS) {
      const original = tf.getKernel(kernelName, BACKEND) as KernelConfig | undefined;
      if (original === undefined) continue;
      originals.set(kernelName, original);
      replacements.set(
        kernelName,
        makeBlasReduceKernel({ settings, original: original.kernelFunc, mean }),
      );
    }
  }
  for (const [kernelName, kernelFunc] of replacements) {
    const original = originals.get(kernelName);
    tf.unregisterKernel(kernelName, BACKEND);
    // Keep the original's setup/dispose hooks: if the wasm backend is re-created, its setup
    // re-binds the wasm function that the fallback path calls.
    tf.registerKernel({
      kernelName,
      backendName: BACKEND,
      kernelFunc,
      ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}),
      ...(original?.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    });
  }
  state.installed = { settings, originals, replacements, blas, reductions };
  state.status = { active: true, reason: activeReason(state.installed) + note, blas };
  return state.status;
}

/**
 * Restores the wasm backend's original `BatchMatMul`, `_FusedMatMul`, `Sum` and `Mean` kernels
 * (those saved by {@link enableWasmBlas}); a kernel that someone else re-registered since is
 * left alone.
 * Idempotent: without an active engine it only reports the status.
 */
export function disableWasmBlas(): WasmBlasStatus {
  if (state.installed === null) return state.status;
  restore(state.installed);
  const blas = state.installed.blas;
  state.installed = null;
  state.status = {
    active: false,
    reason: 'disabled by disableWasmBlas(): the stock wasm kernels run',
    blas,
  };
  return state.status;
}

/**
 * The current {@link WasmBlasStatus}: whether the BLAS kernels are registered for the wasm backend
 * (checked against the kernel registry, so a later re-registration by someone else shows as
 * inactive), why, and which BLAS library was found.
 */
export function wasmBlasStatus(): WasmBlasStatus {
  const installed = state.installed;
  if (installed !== null) {
    const current = tf.getKernel(BATCH_MAT_MUL, BACKEND) as KernelConfig | undefined;
    if (current?.kernelFunc !== installed.replacements.get(BATCH_MAT_MUL)) {
      return {
        active: false,
        reason: 'BatchMatMul for wasm was re-registered by someone else after enableWasmBlas()',
        blas: installed.blas,
      };
    }
  }
  return state.status;
}

function decline(reason: string, blas?: WasmBlasLibraryInfo): WasmBlasStatus {
  if (state.installed !== null) restore(state.installed);
  state.installed = null;
  state.status = blas === undefined ? { active: false, reason } : { active: false, reason, blas };
  return state.status;
}

function restore(installed: Installed): void {
  for (const [kernelName, config] of installed.originals) {
    const current = tf.getKernel(kernelName, BACKEND) as KernelConfig | undefined;
    if (current === undefined || current.kernelFunc !== installed.replacements.get(kernelName)) {
      continue;
    }
    tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel(config);
  }
}

function activeReason(installed: Installed): string {
  const kernels = [...installed.replacements.keys()].join(', ');
  const { library, threads, probeGflops } = installed.blas;
  const threadText = threads === undefined ? 'default threads' : `${threads} thread(s)`;
  return `${kernels} on the wasm backend run on ${library} (${threadText}, 256³ sgemm probe ${probeGflops.toFixed(1)} GFLOP/s)`;
}

function libraryInfo(loaded: LoadedBlas): WasmBlasLibraryInfo {
  return {
    library: loaded.library,
    kind: loaded.kind,
    ...(loaded.threads === undefined ? {} : { threads: loaded.threads }),
    probeGflops: loaded.probeGflops,
  };
}
