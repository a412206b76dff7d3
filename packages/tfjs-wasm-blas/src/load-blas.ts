import { readFileSync } from 'node:fs';
import * as E from 'fp-ts/lib/Either.js';
import { classifyBlasLibrary } from './classify-blas-library.js';
import moduleRequire from './module-require.cjs';
import type { BlasKind, Sgemm, Sgemv } from './types.js';
import { CBLAS_NO_TRANS } from './types.js';

/** A loaded `nblas` binding with what was found out about the BLAS behind it. */
export interface LoadedBlas {
  readonly sgemm: Sgemm;
  readonly sgemv: Sgemv;
  readonly library: string;
  readonly kind: BlasKind;
  readonly threads?: number;
  readonly probeGflops: number;
  /** Set when `threads` was asked for but the library was already loaded with another setting. */
  readonly threadsNote?: string;
}

let cached: E.Either<string, LoadedBlas> | undefined;

/**
 * Loads the optional `nblas` binding (CBLAS through node-gyp) once per process and describes the
 * BLAS behind it: the shared library mapped into the process (`/proc/self/maps`, Linux only) and the
 * GFLOP/s of a 256³ sgemm (best of five after one warm-up, about 34 MFLOP each: well under a
 * millisecond with OpenBLAS, 10–30 ms with reference BLAS). Left: why it is unavailable.
 *
 * `threads` sets `OPENBLAS_NUM_THREADS` during the first load (default {@link DEFAULT_THREADS}
 * unless the environment sets `OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS` or `GOTO_NUM_THREADS`);
 * OpenBLAS reads it only once, at load time, and `nblas` exposes no `openblas_set_num_threads`,
 * so a later different request is reported in `threadsNote` instead of applied.
 */
export function loadBlas({ threads }: { readonly threads?: number }): E.Either<string, LoadedBlas> {
  if (cached !== undefined) {
    if (E.isRight(cached) && threads !== undefined && threads !== cached.right.threads) {
      return E.right({
        ...cached.right,
        threadsNote: `threads=${threads} not applied: the BLAS was already loaded with ${cached.right.threads ?? 'its default'}`,
      });
    }
    return cached;
  }
  // OpenBLAS reads its thread count from the environment once, when the library loads: set it
  // for the load only, then restore the environment so child processes see the user's own.
  const environment = ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'GOTO_NUM_THREADS'];
  const userSet = environment.map((name) => process.env[name]).find((v) => v !== undefined);
  const chosen = threads ?? (userSet === undefined ? DEFAULT_THREADS : parseThreads(userSet));
  const saved = process.env['OPENBLAS_NUM_THREADS'];
  if (threads !== undefined || userSet === undefined) {
    process.env['OPENBLAS_NUM_THREADS'] = String(chosen);
  }
  try {
    cached = requireNblas(chosen);
  } finally {
    if (saved === undefined) delete process.env['OPENBLAS_NUM_THREADS'];
    else process.env['OPENBLAS_NUM_THREADS'] = saved;
  }
  return cached;
}

/**
 * OpenBLAS threads when neither the caller nor the environment chooses: 1. Measured on a GPT-style
 * training step (d128, 4 layers, batch 16, ctx 128) on 2 busy cores: 0.65–0.73 s/step with 1
 * thread against 1.3–2.8 s with 2, because idle OpenBLAS workers spin and take the core from the
 * single-threaded wasm kernels that run between matmuls (OPENBLAS_THREAD_TIMEOUT=4 did not help).
 */
export const DEFAULT_THREADS = 1;

function requireNblas(threads: number | undefined): E.Either<string, LoadedBlas> {
  let binding: unknown;
  try {
    binding = moduleRequire('nblas');
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    if (/Cannot find module 'nblas'/.test(message)) {
      return E.left(
        'nblas not installed (optional dependency: install a CBLAS such as libopenblas-dev, then npm install)',
      );
    }
    return E.left(`nblas failed to load: ${message.split('\n')[0] ?? message}`);
  }
  const { sgemm, sgemv } = binding as { sgemm?: unknown; sgemv?: unknown };
  if (typeof sgemm !== 'function' || typeof sgemv !== 'function') {
    return E.left('nblas loaded but exports no sgemm/sgemv functions');
  }
  const typed = sgemm as Sgemm;
  const found = classifyBlasLibrary({ mappedPaths: mappedLibraries() });
  return E.right({
    sgemm: typed,
    sgemv: sgemv as Sgemv,
    library: found.library,
    kind: found.kind,
    ...(threads === undefined ? {} : { threads }),
    probeGflops: probeGflops(typed),
  });
}

/** Shared objects mapped into this process; empty where `/proc/self/maps` does not exist. */
function mappedLibraries(): string[] {
  try {
    const lines = readFileSync('/proc/self/maps', 'utf8').split('\n');
    const paths = lines
      .map((line) => line.split(/\s+/).slice(5).join(' '))
      .filter((p) => p.startsWith('/'));
    return [...new Set(paths)];
  } catch {
    return [];
  }
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number.parseInt(value, 10);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : undefined;
}

/** GFLOP/s of C = A·B with 256×256 operands, best of five timed calls after one warm-up. */
function probeGflops(sgemm: Sgemm): number {
  const size = 256;
  const a = new Float32Array(size * size).fill(1 / size);
  const b = new Float32Array(size * size).fill(0.5);
  const c = new Float32Array(size * size);
  const run = (): void =>
    sgemm(CBLAS_NO_TRANS, CBLAS_NO_TRANS, size, size, size, 1, a, size, b, size, 0, c, size);
  run();
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 5; rep += 1) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  // Guard: a timer resolution of 0 ms would give Infinity; clamp the time to 1 µs.
  return (2 * size * size * size) / (Math.max(best, 1e-3) * 1e6);
}
