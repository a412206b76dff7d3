/**
 * Test helpers of `@covrl/tfjs-wasm-blas` for this and other packages' tests: whether the native
 * BLAS binding loads here (to `it.skipIf` BLAS-only assertions), a naive matmul oracle and
 * seeded test data.
 */
import * as E from 'fp-ts/lib/Either.js';
import { loadBlas } from '../load-blas.js';

/** True when `nblas` loads in this process (whatever BLAS is behind it). */
export function isNblasLoadable(): boolean {
  return E.isRight(loadBlas({}));
}

/**
 * Naive oracle: `op(A)·op(B)` for one row-major matrix pair by the textbook triple loop, with
 * op(X) = Xᵀ when the flag is set. `a` holds `[m,k]` (`[k,m]` transposed), `b` holds `[k,n]`
 * (`[n,k]` transposed); returns `[m,n]` in float64.
 */
export function naiveMatMul({
  a,
  b,
  m,
  k,
  n,
  transposeA = false,
  transposeB = false,
}: {
  readonly a: ArrayLike<number>;
  readonly b: ArrayLike<number>;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
}): Float64Array {
  const out = new Float64Array(m * n);
  for (let row = 0; row < m; row += 1) {
    for (let col = 0; col < n; col += 1) {
      let sum = 0;
      for (let inner = 0; inner < k; inner += 1) {
        const x = transposeA ? a[inner * m + row] : a[row * k + inner];
        const y = transposeB ? b[col * k + inner] : b[inner * n + col];
        sum += (x ?? 0) * (y ?? 0);
      }
      out[row * n + col] = sum;
    }
  }
  return out;
}

/**
 * Deterministic uniform(−scale, scale) float32 data from `seed` (the mulberry32 generator), for
 * reproducible test inputs of `size` values.
 */
export function seededUniform(seed: number, size: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 1) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
