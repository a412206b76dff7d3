/**
 * `npm run bench:no-blas -- [--json] [--rounds N] [--steps N]`: the engine without a system BLAS
 * (what `COVRL_BLAS=0`, a machine without OpenBLAS, or a browser gets), against PyTorch at one
 * thread, in interleaved rounds on the shared machine:
 *
 * - per round, PyTorch's reference step and batch-64 sampling (`benchmarks/torch/reference.py`,
 *   `OPENBLAS_NUM_THREADS=1`), then the same model on wasm with the fused kernels and their SIMD128
 *   GEMM (`matMulGradient: 'flags'`), then with the fused kernels but the stock matmuls (the path
 *   before the GEMM, `'auto'` = explicit transposes); each keeps its best training step and
 *   sampling speed over the rounds (single runs drift by ±25 % and more here);
 * - the matmul kernels (stock, GEMM, and BLAS when `nblas` loads) on the reference shapes
 *   (`runBlasBench`);
 * - the top kernels of one training step on the GEMM path;
 * - the embedding gradient at V = 151 936 on the GEMM path (`runEmbeddingGradBench`).
 *
 * The last line printed is one JSON object with every number.
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  FUSED_KERNEL_NAMES,
  disableWasmBlas,
  enableWasmFusedKernels,
  wasmFusedKernelsStatus,
} from '@covrl/tfjs-wasm-blas';
import type { WasmFusedKernelName } from '@covrl/tfjs-wasm-blas';
import { runBlasBench } from './blas-bench.js';
import { runEmbeddingGradBench } from './embedding-grad-bench.js';
import { profileTrainingStep, runModelBench } from './model-bench.js';
import { probeTorchBlas, runTorch } from './torch-reference.js';

const json = process.argv.includes('--json');
const intArg = (flag: string, fallback: number): number => {
  const at = process.argv.indexOf(flag);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`bench:no-blas: ${flag} must be a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
};
const rounds = intArg('--rounds', 3);
const steps = intArg('--steps', 5);
const log = (line: string): void => {
  if (!json) console.error(line);
};

interface Best {
  trainSecondsPerStep: number;
  sampleB64TokensPerSecond: number;
}
const better = (previous: Best | undefined, train: number, sample: number): Best => ({
  trainSecondsPerStep: Math.min(previous?.trainSecondsPerStep ?? Infinity, train),
  sampleB64TokensPerSecond: Math.max(previous?.sampleB64TokensPerSecond ?? 0, sample),
});

await tf.setBackend('wasm');
await tf.ready();
disableWasmBlas();
/** The fused kernels without the GEMM (and without the scatter-add, unused at vocabulary 64). */
const noGemm: WasmFusedKernelName[] = [...FUSED_KERNEL_NAMES, 'Identity', 'GatherV2'];

const torchBlas = probeTorchBlas(1);
if (!torchBlas.usable) log(torchBlas.reason);
const best = new Map<string, Best>();
for (let round = 0; round < rounds; round++) {
  if (torchBlas.usable) {
    log(`round ${round + 1}: PyTorch (1 thread)`);
    const torch = runTorch(1, steps);
    if (torch.result !== null) {
      const sample = torch.result.sampling.find((s) => s.batch === 64)?.tokensPerSecond ?? 0;
      best.set('torch', better(best.get('torch'), torch.result.train.secondsPerStep, sample));
    } else {
      log(torch.reason);
    }
  }
  for (const variant of ['gemm', 'stockMatMul'] as const) {
    log(`round ${round + 1}: wasm, fused kernels, ${variant}`);
    const status = enableWasmFusedKernels(variant === 'gemm' ? {} : { kernels: noGemm });
    const r = await runModelBench({
      steps,
      samplingBatches: [64],
      newTokens: 64,
      matMulGradient: status.gemm === true ? 'flags' : 'auto',
    });
    best.set(
      variant,
      better(best.get(variant), r.train.secondsPerStep, r.sampling[0]?.tokensPerSecond ?? 0),
    );
  }
}
enableWasmFusedKernels();

log('matmul kernels: stock, GEMM, BLAS');
const kernels = await runBlasBench({ budgetMs: 300 });
disableWasmBlas();
enableWasmFusedKernels();

log('top kernels of one training step on the GEMM path');
const profile = await profileTrainingStep('flags');

log('embedding gradient at V = 151 936');
const embeddingGrad = await runEmbeddingGradBench({ repeats: 3, matMulGradient: 'flags' });

const torch = best.get('torch');
interface Ratios {
  trainTimeRatioToTorch: number;
  sampleB64SpeedRatioToTorch: number;
}
const ratios = (b: Best | undefined): Ratios | null =>
  b === undefined || torch === undefined
    ? null
    : {
        trainTimeRatioToTorch: b.trainSecondsPerStep / torch.trainSecondsPerStep,
        sampleB64SpeedRatioToTorch: b.sampleB64TokensPerSecond / torch.sampleB64TokensPerSecond,
      };
const result = {
  fusedKernels: wasmFusedKernelsStatus(),
  rounds,
  steps,
  torchReason: torchBlas.usable ? null : torchBlas.reason,
  torch: torch ?? null,
  gemm: { ...best.get('gemm'), ...ratios(best.get('gemm')) },
  stockMatMul: { ...best.get('stockMatMul'), ...ratios(best.get('stockMatMul')) },
  kernels,
  profile,
  embeddingGrad,
};
if (!json) {
  const g = result.gemm as Partial<Best & Ratios>;
  console.error(
    `no BLAS, SIMD128 GEMM: train ${g.trainSecondsPerStep?.toFixed(3)} s/step (×${g.trainTimeRatioToTorch?.toFixed(2) ?? 'n/a'} PyTorch), sampling ${g.sampleB64TokensPerSecond?.toFixed(0)} tokens/s`,
  );
}
console.log(JSON.stringify(result));
