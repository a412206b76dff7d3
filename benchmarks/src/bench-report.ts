/**
 * The JSON object `npm run bench -- --json` prints as its last line, built from the measured
 * pieces (kept apart from `run.ts`, which measures, so that a test can build it from a tiny run).
 */
import type { ModelBenchResult } from './model-bench.js';
import type { MachinePeak } from './peak.js';
import type { TorchBlasProbe, TorchResult } from './torch-reference.js';

/** One configuration's figures and ratios to PyTorch. */
export interface BenchSummary {
  readonly numParameters: number;
  readonly trainStep: ModelBenchResult['train'];
  readonly sampleB64: ModelBenchResult['sampling'][number] | null;
  /** Achieved training FLOP/s over the machine's peak (`peakGflops`). */
  readonly mfu: number;
  /** Cores this configuration can use: the BLAS threads when the engine is on, else 1 (wasm). */
  readonly usedCores: number;
  /** Peak of those cores: `usedCores × peakGflopsPerCore`. */
  readonly peakGflopsUsedCores: number;
  /** Achieved training FLOP/s over `peakGflopsUsedCores`. */
  readonly mfuUsedCores: number;
  readonly torch: {
    readonly trainStep: TorchResult['train'];
    readonly sampleB64: TorchResult['sampling'][number] | null;
  } | null;
  /** Our seconds per step over PyTorch's (lower is better); null without a fair PyTorch run. */
  readonly trainTimeRatioToTorch: number | null;
  /** Our batch-64 tokens/s over PyTorch's (higher is better); null without a fair PyTorch run. */
  readonly sampleB64SpeedRatioToTorch: number | null;
}

const ratio = (ours: number | undefined, theirs: number | undefined): number | null =>
  ours === undefined || theirs === undefined ? null : ours / theirs;

/**
 * Summarise one {@link ModelBenchResult} (measured with `runModelBench`'s `peakFlops` =
 * `peak.gflops·1e9` and `usedCoresPeakFlops` = `usedCores·peak.perCoreGflops·1e9`) against a
 * PyTorch result (null: ratios null).
 */
export function summarise(
  r: ModelBenchResult,
  torchResult: TorchResult | null,
  peak: MachinePeak,
  usedCores: number,
): BenchSummary {
  const s64 = r.sampling.find((x) => x.batch === 64);
  const t64 = torchResult?.sampling.find((x) => x.batch === 64);
  const peakGflopsUsedCores = usedCores * peak.perCoreGflops;
  return {
    numParameters: r.numParameters,
    trainStep: r.train,
    sampleB64: s64 ?? null,
    mfu: r.train.gflopsPerSecond / peak.gflops,
    usedCores,
    peakGflopsUsedCores,
    mfuUsedCores: r.train.gflopsPerSecond / peakGflopsUsedCores,
    torch: torchResult === null ? null : { trainStep: torchResult.train, sampleB64: t64 ?? null },
    trainTimeRatioToTorch: ratio(r.train.secondsPerStep, torchResult?.train.secondsPerStep),
    sampleB64SpeedRatioToTorch: ratio(s64?.tokensPerSecond, t64?.tokensPerSecond),
  };
}

/** A model run with the cores it could use. */
export interface MeasuredConfig {
  readonly result: ModelBenchResult;
  readonly usedCores: number;
}

/** Everything {@link buildBenchReport} puts in the JSON. */
export interface BenchReportInput {
  readonly backend: string;
  readonly blas: unknown;
  readonly fusedKernels: unknown;
  readonly threads: number;
  readonly peak: MachinePeak;
  /** PyTorch on the reference config (`result` null: refused or unavailable, see `reason`). */
  readonly torch: { readonly result: TorchResult | null; readonly reason: string };
  /** PyTorch on the larger config. */
  readonly torchLarger: { readonly result: TorchResult | null; readonly reason: string };
  /** `reference.py --blas-only`, null when PyTorch could not run. */
  readonly torchBlas: TorchBlasProbe | null;
  /** The default path (BLAS engine when active). */
  readonly reference: MeasuredConfig;
  readonly referenceEngineOff: MeasuredConfig;
  readonly referenceFusedOnly: MeasuredConfig;
  readonly larger: MeasuredConfig & { readonly config: Readonly<Record<string, number>> };
  /** Further sections, copied as they are (kernels, fusedAblation, profile, …). */
  readonly extras: Readonly<Record<string, unknown>>;
}

/**
 * The bench JSON. Contract keys (the issue's): `referenceConfig.trainStep.tokensPerSecond`,
 * `referenceConfig.sampleB64.tokensPerSecond`, `referenceConfig.mfu`, `largerConfig` (same
 * shape), `torchReason` (empty when the PyTorch ratios are valid). MFU keys: `peakGflops`
 * (machine), `peakGflopsPerCore`, `peakSource`, `cores`, and per configuration `mfu`,
 * `usedCores`, `peakGflopsUsedCores`, `mfuUsedCores`.
 */
export function buildBenchReport(input: BenchReportInput): Record<string, unknown> {
  const { peak, torch, torchLarger } = input;
  const sum = (m: MeasuredConfig, t: TorchResult | null): BenchSummary =>
    summarise(m.result, t, peak, m.usedCores);
  return {
    backend: input.backend,
    blas: input.blas,
    fusedKernels: input.fusedKernels,
    threads: input.threads,
    peakGflops: peak.gflops,
    peakGflopsPerCore: peak.perCoreGflops,
    peakSource: peak.source,
    cores: peak.cores,
    torchReason: torch.reason,
    torchBlas: input.torchBlas,
    referenceConfig: sum(input.reference, torch.result),
    referenceConfigEngineOff: sum(input.referenceEngineOff, torch.result),
    /** Fused kernels without BLAS: what a machine without a CBLAS gets. */
    referenceConfigFusedOnly: sum(input.referenceFusedOnly, torch.result),
    largerConfig: {
      config: input.larger.config,
      ...sum(input.larger, torchLarger.result),
      torchReason: torchLarger.reason,
    },
    ...input.extras,
  };
}
