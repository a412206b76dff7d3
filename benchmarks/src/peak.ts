/**
 * The machine's peak float32 FLOP/s, for MFU.
 */
import { cpus } from 'node:os';

/**
 * Peak float32 GFLOP/s of one core of the reference machine: `design/compute.md` gives about
 * 166 GFLOP/s for its 2 AMD EPYC Zen 4 cores at 2.6 GHz, i.e. 83 per core (Zen 4 runs AVX-512
 * FMAs on two 256-bit pipes: 16 fp32 FMAs = 32 FLOP per cycle × 2.6 GHz). One-thread OpenBLAS
 * sgemm was measured at 90–105 GFLOP/s on the same machine, so the cores boost above 2.6 GHz and
 * MFU against this figure reads high by up to ~25 %; pass `--peak-gflops` to use another peak.
 */
export const PEAK_GFLOPS_PER_CORE = 83;

/** Where {@link PEAK_GFLOPS_PER_CORE} comes from, as recorded in the bench JSON. */
export const PEAK_GFLOPS_PER_CORE_SOURCE =
  'design/compute.md: 166 GFLOP/s fp32 for 2 AMD EPYC Zen 4 cores at 2.6 GHz (32 FLOP/cycle/core), i.e. 83 per core';

/** The peak used for MFU. */
export interface MachinePeak {
  /** Peak GFLOP/s of the whole machine. */
  readonly gflops: number;
  /** Peak GFLOP/s of one core (`gflops / cores`). */
  readonly perCoreGflops: number;
  /** Logical cores counted (`os.cpus().length` unless given). */
  readonly cores: number;
  /** How the figure was obtained. */
  readonly source: string;
}

/**
 * `cores × PEAK_GFLOPS_PER_CORE` (cores default `os.cpus().length`), or `peakGflops` when given
 * (the `--peak-gflops` flag), split evenly over the cores.
 * @throws Error when `peakGflops` or `cores` is not a positive finite number.
 */
export function machinePeak(
  options: { readonly cores?: number; readonly peakGflops?: number } = {},
): MachinePeak {
  const cores = options.cores ?? cpus().length;
  if (!(Number.isInteger(cores) && cores > 0)) {
    throw new Error(`machinePeak: cores must be a positive integer, got ${String(cores)}`);
  }
  const given = options.peakGflops;
  if (given !== undefined) {
    if (!(given > 0 && Number.isFinite(given))) {
      throw new Error(`machinePeak: --peak-gflops must be a positive number, got ${String(given)}`);
    }
    return { gflops: given, perCoreGflops: given / cores, cores, source: '--peak-gflops' };
  }
  return {
    gflops: cores * PEAK_GFLOPS_PER_CORE,
    perCoreGflops: PEAK_GFLOPS_PER_CORE,
    cores,
    source: `os.cpus().length (${cores}) × ${PEAK_GFLOPS_PER_CORE} GFLOP/s per core (${PEAK_GFLOPS_PER_CORE_SOURCE})`,
  };
}
