/**
 * `npm run bench -- [--json] [--quick] [--threads N] [--peak-gflops X]`: the reference training
 * step and KV-cache sampling with the engine of @covrl/tfjs-wasm-blas off, fused kernels only,
 * and BLAS + fused (the default), each as a ratio to PyTorch at the same thread count (one by
 * default, `--threads N`) measured in the same run, MFU, matmul throughput with and without the
 * engine, a per-kernel profile of one training step, the sampler's overhead and one sampling step
 * on the host and the device. The last line printed is one JSON object with every number
 * (`bench-report.ts`).
 *
 * PyTorch is Debian's `python3-torch` (with `libopenblas0-pthread`), run as `/usr/bin/python3
 * benchmarks/torch/reference.py`; when it is not installed, or runs on the reference BLAS (see
 * `torch-reference.ts`), the ratios are `null` and `torchReason` says what to install.
 *
 * `--peak-gflops X` replaces the machine's peak (default `os.cpus().length × 83`, see `peak.ts`)
 * for `mfu`; `mfuUsedCores` is against the cores a configuration can use (`--threads` with the
 * BLAS engine, one for plain wasm).
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  disableWasmBlas,
  disableWasmFusedKernels,
  enableWasmBlas,
  enableWasmFusedKernels,
  wasmBlasStatus,
  wasmFusedKernelsStatus,
  FUSED_KERNEL_NAMES,
} from '@covrl/tfjs-wasm-blas';
import type { WasmFusedKernelName } from '@covrl/tfjs-wasm-blas';
import { profileTrainingStep, runModelBench } from './model-bench.js';
import type { ModelBenchResult } from './model-bench.js';
import { runBlasBench } from './blas-bench.js';
import { buildBenchReport } from './bench-report.js';
import type { MeasuredConfig } from './bench-report.js';
import { machinePeak } from './peak.js';
import type { MachinePeak } from './peak.js';
import { runSamplerOverheadBench } from './sampler-overhead.js';
import { runSamplingStepBench } from './sampling-step-bench.js';
import { runEmbeddingGradBench } from './embedding-grad-bench.js';
import { probeTorchBlas, runTorch } from './torch-reference.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
/**
 * `--threads N` (default 1): OpenBLAS threads for the BLAS engine AND PyTorch's thread count, so
 * the two always compare at the same number of threads.
 */
const threadsArg = process.argv.indexOf('--threads');
const threads = threadsArg === -1 ? 1 : Number(process.argv[threadsArg + 1]);
if (!(Number.isInteger(threads) && threads > 0)) {
  console.error(`bench: --threads must be a positive integer, got ${process.argv[threadsArg + 1]}`);
  process.exit(2);
}
const log = (line: string): void => {
  if (!json) console.error(line);
};

/** `--peak-gflops X`: the machine's peak for MFU instead of cores × 83 GFLOP/s. */
const peakArg = process.argv.indexOf('--peak-gflops');
let peak: MachinePeak;
try {
  peak = machinePeak(peakArg === -1 ? {} : { peakGflops: Number(process.argv[peakArg + 1]) });
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exit(2);
}

/** Kernel time of one training step with the matmul gradient the engine in use prefers. */
const profileStep = (): Promise<unknown> =>
  profileTrainingStep(
    wasmBlasStatus().active || wasmFusedKernelsStatus().gemm === true ? 'flags' : 'auto',
  );

await tf.setBackend('wasm');
await tf.ready();
const steps = quick ? 2 : 5;
/** The issue's larger config: same shape of run, 4× the width. */
const LARGER = { dModel: 256, nLayers: 6, nHeads: 8 } as const;

log(`benchmark: PyTorch reference (${threads} thread(s))`);
// The BLAS behind PyTorch first (a second or two): a reference-BLAS PyTorch is no peer, and its
// model runs would take 20× longer for nothing.
const torchBlas = probeTorchBlas(threads);
const torch = torchBlas.usable
  ? runTorch(threads, steps)
  : { result: null, reason: torchBlas.reason };
if (torch.result === null) log(torch.reason);

/** Training step at batch 16 × 128 and batch-64 KV-cache sampling (1-token prompts, 64 new). */
async function measure(
  config: Partial<typeof LARGER> | undefined,
  engine: boolean,
): Promise<MeasuredConfig> {
  // Transpose flags whenever a fast BatchMatMul serves them: the BLAS engine or the fused
  // kernels' SIMD128 GEMM (the stock Transpose would otherwise cost about as much as the products).
  const mode = engine || wasmFusedKernelsStatus().gemm === true ? 'flags' : 'auto';
  // The BLAS engine runs its matmuls on `threads` OpenBLAS threads; plain wasm on one core.
  const usedCores = engine ? threads : 1;
  const result: ModelBenchResult = await runModelBench({
    steps,
    samplingBatches: [64],
    newTokens: 64,
    matMulGradient: mode,
    peakFlops: peak.gflops * 1e9,
    usedCoresPeakFlops: usedCores * peak.perCoreGflops * 1e9,
    ...(config !== undefined ? { config } : {}),
    log,
  });
  return { result, usedCores };
}

log('benchmark: reference config, stock wasm kernels (BLAS engine and fused kernels off)');
disableWasmBlas();
disableWasmFusedKernels();
const plain = await measure(undefined, false);
log('benchmark: reference config, fused kernels on, BLAS off (a machine without OpenBLAS)');
const fusedStatus = enableWasmFusedKernels();
if (!fusedStatus.active) log(`fused kernels inactive: ${fusedStatus.reason}`);
const fusedOnly = fusedStatus.active ? await measure(undefined, false) : plain;
log('benchmark: reference config, BLAS engine and fused kernels on (the default)');
const status = enableWasmBlas({ threads });
if (!status.active) log(`BLAS engine inactive: ${status.reason}`);
const fast = status.active ? await measure(undefined, true) : fusedOnly;
log('benchmark: larger config (d 256, 6 layers, 8 heads)');
const torchLarger = quick
  ? { result: null, reason: 'skipped with --quick' }
  : torchBlas.usable
    ? runTorch(threads, steps, ['--d-model', '256', '--layers', '6', '--heads', '8'])
    : { result: null, reason: torchBlas.reason };
const larger = await measure(LARGER, status.active);

/**
 * What each fused kernel pays: the reference step and batch-64 sampling with all of them, and with
 * each group left out in turn (BLAS on), in the same run.
 */
async function fusedAblation(): Promise<unknown> {
  const groups: Record<string, readonly WasmFusedKernelName[]> = {
    adamw: ['CovrlAdamW'],
    layerNorm: ['CovrlLayerNorm', 'CovrlLayerNormGrad'],
    gelu: ['CovrlGelu', 'CovrlGeluGrad'],
    kvWrite: ['CovrlKvWrite'],
    identity: ['Identity'],
    gather: ['GatherV2'],
  };
  const all = [...FUSED_KERNEL_NAMES, 'Identity', 'GatherV2'] as WasmFusedKernelName[];
  const variants: [string, readonly WasmFusedKernelName[]][] = [
    ['withAll', all],
    ['withNone', []],
    ...Object.entries(groups).map(([group, names]): [string, readonly WasmFusedKernelName[]] => [
      group,
      all.filter((name) => !names.includes(name)),
    ]),
  ];
  // Differences of 5–10 % are what is measured here, below the drift of one shared-machine run:
  // every variant runs in ABLATION_ROUNDS interleaved rounds and keeps its best step time and
  // sampling speed.
  const best = new Map<string, { trainSecondsPerStep: number; sampleB64TokensPerSecond: number }>();
  for (let round = 0; round < ABLATION_ROUNDS; round++) {
    for (const [name, kernels] of variants) {
      log(
        `benchmark: fused kernels ${name === 'withAll' ? 'all' : `without ${name}`} (round ${round + 1})`,
      );
      enableWasmFusedKernels({ kernels });
      const r = await runModelBench({
        steps: quick ? 2 : 4,
        samplingBatches: [64],
        newTokens: 64,
        matMulGradient: status.active ? 'flags' : 'auto',
      });
      const previous = best.get(name);
      const sample = r.sampling[0]?.tokensPerSecond ?? 0;
      best.set(name, {
        trainSecondsPerStep: Math.min(
          previous?.trainSecondsPerStep ?? Infinity,
          r.train.secondsPerStep,
        ),
        sampleB64TokensPerSecond: Math.max(previous?.sampleB64TokensPerSecond ?? 0, sample),
      });
    }
  }
  enableWasmFusedKernels();
  const without: Record<string, unknown> = {};
  for (const group of Object.keys(groups)) without[group] = best.get(group);
  return {
    rounds: ABLATION_ROUNDS,
    withAll: best.get('withAll'),
    withNone: best.get('withNone'),
    without,
  };
}
/** Interleaved rounds of the fused-kernel ablation (best of them is kept per variant). */
const ABLATION_ROUNDS = quick ? 1 : 2;
log('benchmark: fused-kernel ablation (each group left out in turn)');
const ablation = await fusedAblation();

log('benchmark: matmul kernels');
const kernels = await runBlasBench({ budgetMs: quick ? 100 : 300 });
log('benchmark: per-kernel profile of one training step');
const profile = await profileStep();
log(
  'benchmark: per-kernel profile of one training step without BLAS (fused kernels + SIMD128 GEMM)',
);
disableWasmBlas();
const profileNoBlas = await profileStep();
enableWasmBlas({ threads });
log('benchmark: sampler overhead');
const sampler = await runSamplerOverheadBench({ repeats: quick ? 1 : 3 });
log('benchmark: one sampling step on the host and on the device (DEVICE_SAMPLING_MIN_VOCAB)');
const samplingStep = await runSamplingStepBench({
  vocabs: quick ? [64, 4096] : [64, 512, 4096, 50257],
  repeats: quick ? 3 : 10,
});

log('benchmark: embedding gradient at V = 151 936 (scatter-add against the one-hot product)');
const embeddingGrad = {
  engine: await runEmbeddingGradBench({
    repeats: quick ? 1 : 3,
    matMulGradient: wasmBlasStatus().active ? 'flags' : 'auto',
  }),
  noBlas: await (async () => {
    disableWasmBlas();
    try {
      return await runEmbeddingGradBench({
        repeats: quick ? 1 : 3,
        matMulGradient: wasmFusedKernelsStatus().gemm === true ? 'flags' : 'auto',
      });
    } finally {
      enableWasmBlas({ threads });
    }
  })(),
};

const result = buildBenchReport({
  backend: tf.getBackend(),
  blas: wasmBlasStatus(),
  fusedKernels: wasmFusedKernelsStatus(),
  threads,
  peak,
  torch,
  torchLarger,
  torchBlas: torchBlas.probe,
  reference: fast,
  referenceEngineOff: plain,
  referenceFusedOnly: fusedOnly,
  larger: { ...larger, config: LARGER },
  extras: {
    kernels,
    fusedAblation: ablation,
    profile,
    profileNoBlas,
    samplerOverhead: sampler,
    embeddingGrad,
    samplingStep,
  },
});
if (!json) {
  const fmt = (x: unknown): string => (typeof x === 'number' ? x.toFixed(2) : 'n/a');
  const at = (key: string): Record<string, unknown> => result[key] as Record<string, unknown>;
  console.log(
    `reference train step: ×${fmt(at('referenceConfig')['trainTimeRatioToTorch'])} PyTorch's time (engine off ×${fmt(at('referenceConfigEngineOff')['trainTimeRatioToTorch'])}, fused kernels without BLAS ×${fmt(at('referenceConfigFusedOnly')['trainTimeRatioToTorch'])}); ` +
      `batch-64 sampling: ×${fmt(at('referenceConfig')['sampleB64SpeedRatioToTorch'])} PyTorch's speed; MFU ${fmt(at('referenceConfig')['mfu'])} of the machine, ${fmt(at('referenceConfig')['mfuUsedCores'])} of the cores used; sampler overhead ${(100 * sampler.overheadFraction).toFixed(1)} %`,
  );
}
console.log(JSON.stringify(result));
