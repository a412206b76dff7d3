/**
 * The PyTorch peer of the benchmark: runs `benchmarks/torch/reference.py` with Debian's
 * `/usr/bin/python3` and decides whether its numbers are a fair reference.
 *
 * Debian's `python3-torch` is built against the generic `libblas.so.3`; which BLAS serves it is
 * chosen at run time by the alternatives system. With `libopenblas0-pthread` it is OpenBLAS;
 * without, the netlib reference BLAS, about 20× slower, which would make every ratio to PyTorch
 * look 20× better than it is. `reference.py` reports the libraries mapped into its process and a
 * timed 256³ matmul; {@link torchBlasVerdict} refuses a reference-BLAS PyTorch.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What `reference.py` reports about the BLAS behind PyTorch's matmuls. */
export interface TorchBlasProbe {
  /** Mapped shared libraries whose names mention blas, mkl, blis or lapack. */
  readonly libraries: readonly string[];
  /** `openblas_get_num_threads()` when OpenBLAS is loaded, else null. */
  readonly openblasThreads: number | null;
  /** Float32 GFLOP/s of a 256³ matmul (best of 5), at the requested thread count. */
  readonly probeGflops: number;
  /** `BLAS_INFO` of `torch.__config__.show()` (`generic` for Debian's build). */
  readonly buildBlasInfo: string | null;
}

/** The last JSON line of `reference.py` (without `--blas-only`). */
export interface TorchResult {
  readonly torch: string;
  readonly threads: number;
  readonly blas: TorchBlasProbe;
  readonly train: { readonly secondsPerStep: number; readonly tokensPerSecond: number };
  readonly sampling: readonly { readonly batch: number; readonly tokensPerSecond: number }[];
}

/** A 256³ matmul below this many GFLOP/s is the reference BLAS (OpenBLAS: ≈ 90–100 per core). */
export const REFERENCE_BLAS_MAX_GFLOPS = 10;

const INSTALL = 'apt-get install python3-torch libopenblas0-pthread';

/**
 * Whether a PyTorch run is a fair peer: its BLAS must not be the reference BLAS (a mapped
 * `…/blas/libblas.so*`, Debian's netlib path, or a 256³ matmul under
 * {@link REFERENCE_BLAS_MAX_GFLOPS} GFLOP/s without OpenBLAS loaded), and OpenBLAS, when loaded,
 * must run the requested number of threads. Returns the kind (`openblas`, `other` — e.g. MKL or
 * BLIS, accepted — or `reference`) and, when refused, a reason that says what to install.
 */
export function torchBlasVerdict(
  probe: TorchBlasProbe | undefined,
  threads: number,
): { readonly usable: boolean; readonly kind: string; readonly reason: string } {
  if (probe === undefined || !Array.isArray(probe.libraries)) {
    return {
      usable: false,
      kind: 'unknown',
      reason: `benchmarks/torch/reference.py reported no BLAS probe; cannot tell whether PyTorch runs on OpenBLAS (${INSTALL})`,
    };
  }
  const gflops = `256³ matmul at ${probe.probeGflops.toFixed(1)} GFLOP/s`;
  const openblas = probe.libraries.some((p) => /openblas/i.test(p));
  const netlib = probe.libraries.some((p) => /\/blas\/libblas\.so/.test(p));
  if (netlib || (!openblas && !(probe.probeGflops >= REFERENCE_BLAS_MAX_GFLOPS))) {
    const libs = probe.libraries.length > 0 ? probe.libraries.join(', ') : 'no BLAS library found';
    return {
      usable: false,
      kind: 'reference',
      reason:
        `PyTorch runs on the reference BLAS (${libs}; ${gflops}), about 20× slower than OpenBLAS, ` +
        `so ratios against it would flatter covrl: ${INSTALL} ` +
        '(then `update-alternatives --display libblas.so.3-x86_64-linux-gnu` names openblas-pthread)',
    };
  }
  if (openblas && probe.openblasThreads !== null && probe.openblasThreads !== threads) {
    return {
      usable: false,
      kind: 'openblas',
      reason: `PyTorch's OpenBLAS runs ${probe.openblasThreads} threads, not the ${threads} asked for (OPENBLAS_NUM_THREADS); the ratios would compare different thread counts`,
    };
  }
  return { usable: true, kind: openblas ? 'openblas' : 'other', reason: '' };
}

/** How long `reference.py` may run: the model runs, and the BLAS probe (a second or two). */
export const MODEL_RUN_TIMEOUT_MS = 600_000;
export const PROBE_TIMEOUT_MS = 120_000;

/** Run `reference.py` and parse its last line; `null` with the reason when it cannot run. */
function runScript(
  args: readonly string[],
  threads: number,
  timeoutMs: number,
): { json: unknown; reason: string } {
  const script = fileURLToPath(new URL('../torch/reference.py', import.meta.url));
  try {
    const out = execFileSync('/usr/bin/python3', [script, '--threads', String(threads), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) },
    });
    return { json: JSON.parse(out.trim().split('\n').pop() ?? '') as unknown, reason: '' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const msg =
      code === 'ETIMEDOUT'
        ? `no answer within ${timeoutMs / 1000} s`
        : error instanceof Error
          ? (error.message.split('\n')[0] ?? '')
          : String(error);
    // A script that started and then failed (python3 and torch present) is a bug to report with
    // its own last stderr line, not a missing install.
    const stderr = String((error as { stderr?: unknown } | null)?.stderr ?? '').trim();
    const lastLine = stderr.split('\n').pop() ?? '';
    if (/\bError\b|Traceback/.test(stderr) && !/No module named 'torch'/.test(stderr)) {
      return { json: null, reason: `PyTorch reference failed (${msg}): ${lastLine}` };
    }
    return { json: null, reason: `PyTorch reference unavailable (${msg}); ${INSTALL}` };
  }
}

/**
 * Probe PyTorch's BLAS (`reference.py --blas-only`, a second or two) and judge it; callers skip
 * the model runs when it is refused. `timeoutMs` bounds the probe (default
 * {@link PROBE_TIMEOUT_MS}; tests pass less): past it the probe counts as unavailable.
 */
export function probeTorchBlas(
  threads: number,
  options: { readonly timeoutMs?: number } = {},
): {
  readonly probe: TorchBlasProbe | null;
  readonly usable: boolean;
  readonly reason: string;
} {
  const { json, reason } = runScript(
    ['--blas-only'],
    threads,
    options.timeoutMs ?? PROBE_TIMEOUT_MS,
  );
  if (json === null) return { probe: null, usable: false, reason };
  const probe = (json as { blas?: TorchBlasProbe }).blas;
  const verdict = torchBlasVerdict(probe, threads);
  return { probe: probe ?? null, usable: verdict.usable, reason: verdict.reason };
}

/**
 * The PyTorch reference model at `threads` threads: `steps` timed training steps and batch-16/64
 * KV-cache sampling of 64 new tokens; `extra` are more `reference.py` flags (`--d-model` …).
 * `result` is null, with the reason, when PyTorch is missing, fails, or runs on the reference
 * BLAS ({@link torchBlasVerdict}).
 */
export function runTorch(
  threads: number,
  steps: number,
  extra: readonly string[] = [],
): { readonly result: TorchResult | null; readonly reason: string } {
  const { json, reason } = runScript(
    ['--steps', String(steps), '--new-tokens', '64', ...extra],
    threads,
    MODEL_RUN_TIMEOUT_MS,
  );
  if (json === null) return { result: null, reason };
  const result = json as TorchResult;
  const verdict = torchBlasVerdict(result.blas, threads);
  return verdict.usable ? { result, reason: '' } : { result: null, reason: verdict.reason };
}
