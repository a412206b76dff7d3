import type { BlasKind } from './types.js';

/** Result of {@link classifyBlasLibrary}. */
export interface BlasLibraryClass {
  /** The shared library that decides the speed (the optimized one when several are mapped). */
  readonly library: string;
  readonly kind: BlasKind;
}

const OPTIMIZED = /openblas|libmkl|mkl_rt|libblis|libatlas|satlas|tatlas|accelerate/i;
const ANY_BLAS = /libc?blas[^/]*\.(so|dylib)/i;

/**
 * Classifies the BLAS that a process uses from the paths of its mapped shared libraries (the last
 * field of `/proc/self/maps` lines). Debian installs `libblas.so.3` through `update-alternatives`:
 * the path mapped is the alternative's real target, `.../openblas-pthread/libblas.so.3` (which
 * pulls in `libopenblasp-r*.so`) for OpenBLAS, or `.../blas/libblas.so.3` for the netlib reference
 * implementation, which is 20–50× slower than OpenBLAS on matmuls. So: any optimized library
 * mapped ⇒ 'optimized'; else a mapped `libblas`/`libcblas` ⇒ 'reference'; else 'unknown' (for
 * example off Linux, where a timing probe must decide).
 *
 * @param mappedPaths - absolute paths of the shared objects mapped into the process, any order.
 */
export function classifyBlasLibrary({
  mappedPaths,
}: {
  readonly mappedPaths: readonly string[];
}): BlasLibraryClass {
  const optimized =
    mappedPaths.find((path) => OPTIMIZED.test(basenameOf(path))) ??
    mappedPaths.find((path) => OPTIMIZED.test(path) && ANY_BLAS.test(basenameOf(path)));
  if (optimized !== undefined) return { library: optimized, kind: 'optimized' };
  const reference = mappedPaths.find((path) => ANY_BLAS.test(basenameOf(path)));
  if (reference !== undefined) return { library: reference, kind: 'reference' };
  return { library: 'unknown', kind: 'unknown' };
}

function basenameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}
