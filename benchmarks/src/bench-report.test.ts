import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { buildBenchReport } from './bench-report.js';
import type { BenchReportInput, MeasuredConfig } from './bench-report.js';
import { runModelBench } from './model-bench.js';
import { machinePeak, PEAK_GFLOPS_PER_CORE } from './peak.js';
import { torchBlasVerdict } from './torch-reference.js';
import type { TorchBlasProbe, TorchResult } from './torch-reference.js';

const OPENBLAS: TorchBlasProbe = {
  libraries: [
    '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so',
  ],
  openblasThreads: 1,
  probeGflops: 95,
  buildBlasInfo: 'generic',
};
const NETLIB: TorchBlasProbe = {
  libraries: ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'],
  openblasThreads: null,
  probeGflops: 4.5,
  buildBlasInfo: 'generic',
};

const fakeTorch: TorchResult = {
  torch: '1.13.0',
  threads: 1,
  blas: OPENBLAS,
  train: { secondsPerStep: 0.15, tokensPerSecond: 13_600 },
  sampling: [
    { batch: 16, tokensPerSecond: 10_000 },
    { batch: 64, tokensPerSecond: 14_000 },
  ],
};

/** The bench's JSON from one real (tiny, 1-step) model run. */
async function tinyReport(torch: BenchReportInput['torch']): Promise<Record<string, unknown>> {
  const peak = machinePeak();
  const measure = async (usedCores: number): Promise<MeasuredConfig> => ({
    usedCores,
    result: await runModelBench({
      steps: 1,
      batch: 2,
      samplingBatches: [64],
      newTokens: 2,
      config: { vocabSize: 16, dModel: 16, nLayers: 1, nHeads: 2, dFf: 32, maxContext: 16 },
      peakFlops: peak.gflops * 1e9,
      usedCoresPeakFlops: usedCores * peak.perCoreGflops * 1e9,
    }),
  });
  const reference = await measure(2);
  return buildBenchReport({
    backend: 'cpu',
    blas: { active: false },
    fusedKernels: { active: false },
    threads: 2,
    peak,
    torch,
    torchLarger: { result: null, reason: 'skipped with --quick' },
    torchBlas: torch.result?.blas ?? null,
    reference,
    referenceEngineOff: reference,
    referenceFusedOnly: reference,
    larger: { ...reference, config: { dModel: 16 } },
    extras: { kernels: [] },
  });
}

type Json = Record<string, unknown>;
const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((x, k) => (x as Json | undefined)?.[k], o);

describe('bench JSON contract', () => {
  it('has the issue keys with numbers and strings (tiny config, 1 step)', async () => {
    const report = await tinyReport({ result: fakeTorch, reason: '' });
    for (const key of ['referenceConfig', 'largerConfig'] as const) {
      expect(typeof at(report, key, 'trainStep', 'tokensPerSecond'), key).toBe('number');
      expect(typeof at(report, key, 'sampleB64', 'tokensPerSecond'), key).toBe('number');
      expect(at(report, key, 'sampleB64', 'batch')).toBe(64);
      for (const field of ['mfu', 'mfuUsedCores', 'usedCores', 'peakGflopsUsedCores']) {
        const v = at(report, key, field);
        expect(typeof v, `${key}.${field}`).toBe('number');
        expect(Number.isFinite(v) && (v as number) > 0).toBe(true);
      }
    }
    expect(typeof report['torchReason']).toBe('string');
    expect(typeof at(report, 'largerConfig', 'torchReason')).toBe('string');
    expect(report['peakGflops']).toBe(cpus().length * PEAK_GFLOPS_PER_CORE);
    expect(report['peakGflopsPerCore']).toBe(PEAK_GFLOPS_PER_CORE);
    expect(report['cores']).toBe(cpus().length);
    expect(report['peakSource']).toMatch(/os\.cpus\(\)\.length .* × 83 GFLOP\/s per core/);
    // MFU of the used cores: same FLOP/s over the peak of 2 cores instead of all of them.
    const ref = report['referenceConfig'] as Json;
    expect(ref['mfuUsedCores'] as number).toBeCloseTo(
      ((ref['mfu'] as number) * cpus().length) / 2,
      10,
    );
    expect(ref['mfu']).toBeCloseTo(at(report, 'referenceConfig', 'trainStep', 'mfu') as number, 10);
    // With a fair PyTorch run the ratios are numbers; without one (larger config) null.
    expect(typeof ref['trainTimeRatioToTorch']).toBe('number');
    expect(typeof ref['sampleB64SpeedRatioToTorch']).toBe('number');
    expect(at(report, 'largerConfig', 'trainTimeRatioToTorch')).toBeNull();
    expect(at(report, 'kernels')).toEqual([]);
  });

  it('reports no ratios against a reference-BLAS PyTorch, saying what to install', async () => {
    const verdict = torchBlasVerdict(NETLIB, 1);
    expect(verdict.usable).toBe(false);
    const report = await tinyReport({ result: null, reason: verdict.reason });
    expect(at(report, 'referenceConfig', 'trainTimeRatioToTorch')).toBeNull();
    expect(at(report, 'referenceConfig', 'sampleB64SpeedRatioToTorch')).toBeNull();
    expect(at(report, 'referenceConfig', 'torch')).toBeNull();
    expect(report['torchReason']).toMatch(/reference BLAS.*libopenblas0-pthread/);
  });
});

describe('torchBlasVerdict', () => {
  it('accepts OpenBLAS at the asked thread count and fast non-OpenBLAS builds (MKL)', () => {
    expect(torchBlasVerdict(OPENBLAS, 1)).toEqual({ usable: true, kind: 'openblas', reason: '' });
    const mkl = { ...NETLIB, libraries: [], probeGflops: 120 };
    expect(torchBlasVerdict(mkl, 1)).toMatchObject({ usable: true, kind: 'other' });
  });

  it('refuses the reference BLAS by its path or by a slow 256³ matmul', () => {
    expect(torchBlasVerdict(NETLIB, 1)).toMatchObject({ usable: false, kind: 'reference' });
    const fastNetlibPath = { ...NETLIB, probeGflops: 50 };
    expect(torchBlasVerdict(fastNetlibPath, 1).usable).toBe(false);
    const slowUnknown = { ...NETLIB, libraries: ['/opt/lib/libsomeblas.so'], probeGflops: 3 };
    const verdict = torchBlasVerdict(slowUnknown, 1);
    expect(verdict.kind).toBe('reference');
    expect(verdict.reason).toMatch(/3\.0 GFLOP\/s.*apt-get install python3-torch libopenblas0/);
  });

  it('refuses OpenBLAS on another thread count and a missing probe', () => {
    expect(torchBlasVerdict({ ...OPENBLAS, openblasThreads: 2 }, 1).reason).toMatch(
      /runs 2 threads, not the 1/,
    );
    expect(torchBlasVerdict(undefined, 1)).toMatchObject({ usable: false, kind: 'unknown' });
  });
});

describe('machinePeak', () => {
  it('is cores × 83 GFLOP/s unless --peak-gflops is given', () => {
    expect(machinePeak({ cores: 4 })).toMatchObject({ gflops: 332, perCoreGflops: 83, cores: 4 });
    expect(machinePeak({ cores: 2, peakGflops: 200 })).toMatchObject({
      gflops: 200,
      perCoreGflops: 100,
      source: '--peak-gflops',
    });
    expect(() => machinePeak({ peakGflops: Number.NaN })).toThrow(/--peak-gflops/);
    expect(() => machinePeak({ cores: 0 })).toThrow(/cores/);
  });
});
