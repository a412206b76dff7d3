/**
 * `npm run bench -- [--json] [--quick] [--threads N]`: the reference training step and KV-cache sampling with
 * the engine of @covrl/tfjs-wasm-blas off, fused kernels only, and BLAS + fused (the default), each
 * as a ratio to PyTorch at the same thread count (one by default, `--threads N`) measured in the
 * same run,
 * MFU, matmul throughput with and without the engine, and a per-kernel profile of one training
 * step. The last line printed is one JSON object with every number.
 *
 * PyTorch is Debian's `python3-torch` (with `libopenblas0-pthread`), run as `/usr/bin/python3
 * benchmarks/torch/reference.py`; when it is not installed the ratios are `null` and the reason is
 * recorded.
 */
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  disableWasmBlas,
  disableWasmFusedKernels,
  enableWasmBlas,
  enableWasmFusedKernels,
  profileKernels,
  wasmBlasStatus,
  wasmFusedKernelsStatus,
  FUSED_KERNEL_NAMES,
} from '@covrl/tfjs-wasm-blas';
import type { WasmFusedKernelName } from '@covrl/tfjs-wasm-blas';
import { computeGradients, createAdamW, createCausalLM } from '@covrl/models';
import { referenceModelConfig, runModelBench } from './model-bench.js';
import type { ModelBenchResult } from './model-bench.js';
import { runBlasBench } from './blas-bench.js';
import { runSamplerOverheadBench } from './sampler-overhead.js';

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

interface TorchResult {
  readonly torch: string;
  readonly train: { readonly secondsPerStep: number; readonly tokensPerSecond: number };
  readonly sampling: readonly { readonly batch: number; readonly tokensPerSecond: number }[];
}

function runTorch(
  steps: number,
  extra: readonly string[] = [],
): { result: TorchResult | null; reason: string } {
  const script = fileURLToPath(new URL('../torch/reference.py', import.meta.url));
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [
        script,
        '--threads',
        String(threads),
        '--steps',
        String(steps),
        '--new-tokens',
        '64',
        ...extra,
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 600_000,
      },
    );
    const last = out.trim().split('\n').pop() ?? '';
    return { result: JSON.parse(last) as TorchResult, reason: '' };
  } catch (error) {
    const msg = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    return {
      result: null,
      reason: `PyTorch reference unavailable (${msg}); apt-get install python3-torch libopenblas0-pthread`,
    };
  }
}

/** PyTorch on the larger config (needs reference.py's --d-model/--layers/--heads). */
function runTorchLarger(steps: number): { result: TorchResult | null; reason: string } {
  return runTorch(steps, ['--d-model', '256', '--layers', '6', '--heads', '8']);
}

/** Kernel time of one training step of the reference model, top 12 kernels. */
async function profileStep(): Promise<unknown> {
  const model = createCausalLM(referenceModelConfig(), {
    seed: 0,
    matMulGradient: wasmBlasStatus().active ? 'flags' : 'auto',
  });
  const opt = createAdamW({ lr: 1e-4 });
  const ids = Array.from({ length: 16 }, (_, r) =>
    Array.from({ length: 128 }, (_, i) => (r * 7 + i * 13) % 64),
  );
  const step = (): void => {
    const { grads } = computeGradients(model, () => {
      const s = model.scoreTokens({
        sequences: ids,
        spans: { all: ids.map(() => ({ start: 1, length: 127 })) },
      }).all;
      return tf.neg(tf.mean(s.logProbs)) as tf.Scalar;
    });
    opt.step(grads, model.variables(), { lr: 1e-4 });
    tf.dispose(Object.values(grads));
  };
  step();
  const profile = await profileKernels({ fn: () => step(), top: 12 });
  opt.dispose();
  model.dispose();
  return profile;
}

const ratio = (ours: number | undefined, theirs: number | undefined): number | null =>
  ours === undefined || theirs === undefined ? null : ours / theirs;

await tf.setBackend('wasm');
await tf.ready();
const steps = quick ? 2 : 5;
/** The larger config: same shape of run, 4× the width. */
const LARGER = { dModel: 256, nLayers: 6, nHeads: 8 } as const;

log(`benchmark: PyTorch reference (${threads} thread(s))`);
const torch = runTorch(steps);
if (torch.result === null) log(torch.reason);

/** Training step at batch 16 × 128 and batch-64 KV-cache sampling (1-token prompts, 64 new). */
async function measure(
  config: Partial<typeof LARGER> | undefined,
  engine: boolean,
): Promise<ModelBenchResult> {
  const mode = engine ? 'flags' : 'auto';
  return runModelBench({
    steps,
    samplingBatches: [64],
    newTokens: 64,
    matMulGradient: mode,
    ...(config !== undefined ? { config } : {}),
    log,
  });
}

function summarise(r: ModelBenchResult, torchResult: TorchResult | null): Record<string, unknown> {
  const s64 = r.sampling.find((x) => x.batch === 64);
  const t64 = torchResult?.sampling.find((x) => x.batch === 64);
  return {
    numParameters: r.numParameters,
    trainStep: r.train,
    sampleB64: s64 ?? null,
    torch: torchResult === null ? null : { trainStep: torchResult.train, sampleB64: t64 ?? null },
    trainTimeRatioToTorch: ratio(r.train.secondsPerStep, torchResult?.train.secondsPerStep),
    sampleB64SpeedRatioToTorch: ratio(s64?.tokensPerSecond, t64?.tokensPerSecond),
  };
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
  : runTorchLarger(steps);
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
  const timeWith = async (kernels: readonly WasmFusedKernelName[]) => {
    enableWasmFusedKernels({ kernels });
    const r = await runModelBench({
      steps: quick ? 2 : 3,
      samplingBatches: [64],
      newTokens: 64,
      matMulGradient: status.active ? 'flags' : 'auto',
    });
    return {
      trainSecondsPerStep: r.train.secondsPerStep,
      sampleB64TokensPerSecond: r.sampling[0]?.tokensPerSecond ?? null,
    };
  };
  const withAll = await timeWith(all);
  const without: Record<string, unknown> = {};
  for (const [group, names] of Object.entries(groups)) {
    log(`benchmark: fused kernels without ${group}`);
    without[group] = await timeWith(all.filter((name) => !names.includes(name)));
  }
  enableWasmFusedKernels();
  return { withAll, without };
}
log('benchmark: fused-kernel ablation (each group left out in turn)');
const ablation = await fusedAblation();

log('benchmark: matmul kernels');
const kernels = await runBlasBench({ budgetMs: quick ? 100 : 300 });
log('benchmark: per-kernel profile of one training step');
const profile = await profileStep();
log('benchmark: sampler overhead');
const sampler = await runSamplerOverheadBench({ repeats: quick ? 1 : 3 });

const result = {
  backend: tf.getBackend(),
  blas: wasmBlasStatus(),
  fusedKernels: wasmFusedKernelsStatus(),
  threads,
  peakGflops: 166,
  torchReason: torch.reason,
  /** The default path (BLAS engine when active), as the contract names it. */
  referenceConfig: summarise(fast, torch.result),
  referenceConfigEngineOff: summarise(plain, torch.result),
  /** Fused kernels without BLAS: what a machine without a CBLAS gets. */
  referenceConfigFusedOnly: summarise(fusedOnly, torch.result),
  largerConfig: { config: LARGER, ...summarise(larger, torchLarger.result) },
  kernels,
  fusedAblation: ablation,
  profile,
  samplerOverhead: sampler,
};
if (!json) {
  const fmt = (x: unknown): string => (typeof x === 'number' ? x.toFixed(2) : 'n/a');
  console.log(
    `reference train step: ×${fmt(result.referenceConfig['trainTimeRatioToTorch'])} PyTorch's time (engine off ×${fmt(result.referenceConfigEngineOff['trainTimeRatioToTorch'])}, fused kernels without BLAS ×${fmt(result.referenceConfigFusedOnly['trainTimeRatioToTorch'])}); ` +
      `batch-64 sampling: ×${fmt(result.referenceConfig['sampleB64SpeedRatioToTorch'])} PyTorch's speed; sampler overhead ${(100 * sampler.overheadFraction).toFixed(1)} %`,
  );
}
console.log(JSON.stringify(result));
