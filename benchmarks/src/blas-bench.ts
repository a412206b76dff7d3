/**
 * Matmul engine benchmark: GFLOP/s of `tf.matMul` on the wasm backend with the stock kernels, with
 * the SIMD128 GEMM of `@covrl/tfjs-wasm-blas`'s fused kernels (no BLAS) and with its BLAS engine, on the shapes of a d128 GPT step (a dense layer, its two
 * weight/input-gradient forms, and batched attention products), `tf.sum` over leading and
 * trailing axes, and forward+backward of `sum(square(matMul(x, w)))`. Design notes: compute.md,
 * "Native GEMM on the wasm heap".
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { WasmBlasStatus } from '@covrl/tfjs-wasm-blas';
import {
  disableWasmBlas,
  disableWasmFusedKernels,
  enableWasmBlas,
  enableWasmFusedKernels,
  wasmBlasStatus,
  wasmFusedKernelsStatus,
} from '@covrl/tfjs-wasm-blas';

/** One matmul shape measured with the engine off and on. */
export interface MatMulBenchRow {
  readonly name: string;
  readonly shapeA: readonly number[];
  readonly shapeB: readonly number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  /** GFLOP/s (2·m·n·k·batch per call / seconds per call) with the stock wasm kernel. */
  readonly stockGflops: number;
  /** Same with the fused kernels' SIMD128 GEMM (BLAS off); null when it could not be enabled. */
  readonly gemmGflops: number | null;
  /** Same with the BLAS engine; null when it could not be enabled here. */
  readonly blasGflops: number | null;
}

/** One float32 reduction measured with the engine off and on (ms per call). */
export interface ReductionBenchRow {
  readonly name: string;
  readonly stockMs: number;
  readonly blasMs: number | null;
}

/** Result of {@link runBlasBench}. */
export interface BlasBenchResult {
  /** Status of the engine when enabled for the "on" runs (why it is off, if it is). */
  readonly status: WasmBlasStatus;
  readonly matMul: readonly MatMulBenchRow[];
  /** `tf.sum` over leading / trailing axes (bias gradients, row sums). */
  readonly reductions: readonly ReductionBenchRow[];
  /** ms per forward+backward of sum(square(matMul(x [2048,128], w [128,512]))). */
  readonly forwardBackward: {
    readonly stockMs: number;
    readonly gemmMs: number | null;
    readonly blasMs: number | null;
  };
}

interface MatMulCase {
  readonly name: string;
  readonly shapeA: number[];
  readonly shapeB: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

const CASES: readonly MatMulCase[] = [
  {
    name: 'plain [2048,128]·[128,512]',
    shapeA: [2048, 128],
    shapeB: [128, 512],
    transposeA: false,
    transposeB: false,
  },
  {
    name: 'transposeA [128,2048]ᵀ·[128,512] (weight gradient)',
    shapeA: [128, 2048],
    shapeB: [128, 512],
    transposeA: true,
    transposeB: false,
  },
  {
    name: 'transposeB [2048,128]·[512,128]ᵀ (input gradient)',
    shapeA: [2048, 128],
    shapeB: [512, 128],
    transposeA: false,
    transposeB: true,
  },
  {
    name: 'batched [64,128,32]·[64,32,128] (attention P·V form)',
    shapeA: [64, 128, 32],
    shapeB: [64, 32, 128],
    transposeA: false,
    transposeB: false,
  },
  {
    name: 'batched transposeB [64,128,32]·[64,128,32]ᵀ (attention Q·Kᵀ)',
    shapeA: [64, 128, 32],
    shapeB: [64, 128, 32],
    transposeA: false,
    transposeB: true,
  },
];

function flopsOf(c: MatMulCase): number {
  const rank = c.shapeA.length;
  const m = c.transposeA ? c.shapeA[rank - 1]! : c.shapeA[rank - 2]!;
  const k = c.transposeA ? c.shapeA[rank - 2]! : c.shapeA[rank - 1]!;
  const n = c.transposeB ? c.shapeB[c.shapeB.length - 2]! : c.shapeB[c.shapeB.length - 1]!;
  const batch = c.shapeA.slice(0, -2).reduce((p, s) => p * s, 1);
  return 2 * m * n * k * batch;
}

/** Mean ms per call of `fn` over enough calls to fill `budgetMs` (at least 3, after 2 warm-ups). */
function msPerCall(fn: () => void, budgetMs: number): number {
  fn();
  fn();
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (calls < 3 || elapsed < budgetMs) {
    fn();
    calls += 1;
    elapsed = performance.now() - start;
  }
  return elapsed / calls;
}

/**
 * Measures the engine off and on (on the wasm backend; the previous backend and engine state are
 * restored afterwards). Budget per measurement: `budgetMs` (default 300 ms).
 */
export async function runBlasBench({
  budgetMs = 300,
}: { readonly budgetMs?: number } = {}): Promise<BlasBenchResult> {
  const previousBackend = tf.getBackend();
  const wasActive = wasmBlasStatus().active;
  const fusedWasActive = wasmFusedKernelsStatus().active;
  await tf.setBackend('wasm');
  const operands = CASES.map((c) => ({
    c,
    a: tf.randomNormal(c.shapeA),
    b: tf.randomNormal(c.shapeB),
  }));
  const x = tf.randomNormal([2048, 128]);
  const w = tf.randomNormal([128, 512]);
  const gradients = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
    tf.sum(tf.square(tf.matMul(xs, ws))),
  );
  const big = tf.randomNormal([2048, 512]);
  const sums: readonly { name: string; axis: number }[] = [
    { name: 'sum over axis 0 of [2048,512] (bias gradient)', axis: 0 },
    { name: 'sum over axis 1 of [2048,512]', axis: 1 },
  ];
  const measure = (): { rows: number[]; sums: number[]; fwdBwd: number } => ({
    sums: sums.map(({ axis }) => msPerCall(() => tf.sum(big, axis).dispose(), budgetMs)),
    rows: operands.map(({ c, a, b }) => {
      const ms = msPerCall(
        () => tf.tidy(() => tf.matMul(a, b, c.transposeA, c.transposeB)).dispose(),
        budgetMs,
      );
      return flopsOf(c) / (ms * 1e6);
    }),
    fwdBwd: msPerCall(() => tf.dispose(gradients([x, w])), budgetMs),
  });
  try {
    disableWasmBlas();
    disableWasmFusedKernels();
    const stock = measure();
    // The module's GEMM starts in V8's baseline tier and is recompiled optimised after some use
    // (dynamic tiering; a running call is not replaced): one untimed pass first, or the first
    // row measures the baseline code (5 against 15 GFLOP/s in one run).
    const gemm = enableWasmFusedKernels().gemm === true ? (measure(), measure()) : null;
    const status = enableWasmBlas();
    const blas = status.active ? measure() : null;
    return {
      status,
      matMul: CASES.map((c, i) => ({
        ...c,
        stockGflops: stock.rows[i]!,
        gemmGflops: gemm === null ? null : gemm.rows[i]!,
        blasGflops: blas === null ? null : blas.rows[i]!,
      })),
      reductions: sums.map(({ name }, i) => ({
        name,
        stockMs: stock.sums[i]!,
        blasMs: blas === null ? null : blas.sums[i]!,
      })),
      forwardBackward: {
        stockMs: stock.fwdBwd,
        gemmMs: gemm === null ? null : gemm.fwdBwd,
        blasMs: blas === null ? null : blas.fwdBwd,
      },
    };
  } finally {
    tf.dispose([x, w, big, ...operands.flatMap(({ a, b }) => [a, b])]);
    // Fused kernels first: BLAS enabled after them wraps their GEMM, as in the app and run.ts.
    disableWasmBlas();
    if (fusedWasActive) enableWasmFusedKernels();
    else disableWasmFusedKernels();
    if (wasActive) enableWasmBlas();
    await tf.setBackend(previousBackend);
  }
}
