/**
 * The decoder's building blocks, written for the wasm backend's fast path (see
 * `design/compute.md`): every dense product is a rank-2 `[N, K]·[K, M]` matmul whose gradient is
 * given explicitly, embedding look-ups have a gradient that does not need the `UnsortedSegmentSum`
 * kernel (missing on wasm), and GELU uses `sigmoid` instead of the 8× slower `tanh`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, runFused, runFusedMany } from './fused.js';

/**
 * How the backward pass of a product is written.
 * - `'transpose'`: explicit `tf.transpose` of the operands, then untransposed matmuls (the only
 *   fast form of the stock wasm kernel: about 20 GFLOP/s against 1–2 with transpose flags).
 * - `'flags'`: `tf.matMul` with `transposeA`/`transposeB` (fewer kernels; fast once a BLAS-backed
 *   `BatchMatMul` kernel is registered, for example by `@covrl/tfjs-wasm-blas`, and on other
 *   backends).
 * - `'auto'` (default): `'transpose'` while the backend is `wasm`, else `'flags'`, decided at each
 *   call. Pass `'flags'` explicitly when a BLAS engine serves the wasm backend.
 */
export type MatMulGradientMode = 'auto' | 'transpose' | 'flags';

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * `tf.tidy` for results that are plain objects holding tensors (nested objects and arrays are
 * walked by `tf.tidy`, so every tensor in the result is kept; only the typing is widened).
 */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/** Rank-2 or batched transpose of the last two axes. */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/** The concrete form of a {@link MatMulGradientMode} on the current backend. */
export function resolveMode(mode: MatMulGradientMode): 'transpose' | 'flags' {
  if (mode !== 'auto') return mode;
  return tf.getBackend() === 'wasm' ? 'transpose' : 'flags';
}

/**
 * `a·bᵀ`, `aᵀ·b` or `a·b` for rank-2/3 operands in the requested {@link MatMulGradientMode}.
 * Rank-3 operands are batched over their first axis.
 */
export function matMulT(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA: boolean,
  transposeB: boolean,
  mode: MatMulGradientMode,
): tf.Tensor {
  if (resolveMode(mode) === 'flags') return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? swapLastAxes(a) : a, transposeB ? swapLastAxes(b) : b);
}

/**
 * Whether the current backend has a scatter-add (`UnsortedSegmentSum`) worth using for gather
 * gradients. Not on `cpu`, whose kernel loops over segments (O(R·M·C), slower than the one-hot
 * matmul), and not on stock `wasm`, which lacks the kernel.
 */
export function hasFastScatter(): boolean {
  const backend = tf.getBackend();
  return backend !== 'cpu' && tf.getKernel('UnsortedSegmentSum', backend) !== undefined;
}

/** The ops of one model, specialised to a {@link MatMulGradientMode}. */
export interface Ops {
  readonly mode: MatMulGradientMode;
  /** `x [N, K] · w [K, M] → [N, M]` with a rank-2 gradient (`dx = dy·wᵀ`, `dw = xᵀ·dy`). */
  mm(x: tf.Tensor, w: tf.Tensor): tf.Tensor2D;
  /** `x·w + b` (b optional, `[M]`). */
  linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D;
  /**
   * `x[idx]` for `x [R, C]`, `idx [M]` int32 → `[M, C]`. Gradient w.r.t. `x`:
   * `unsortedSegmentSum(dy, idx, R)` where {@link hasFastScatter}, else `oneHot(idx, R)ᵀ·dy` as
   * one rank-2 matmul (memory `M·R` floats: fine for small vocabularies and position gathers).
   */
  gatherRows(x: tf.Tensor, idx: tf.Tensor1D): tf.Tensor2D;
}

/** Build the {@link Ops} for a gradient mode. */
export function createOps(mode: MatMulGradientMode): Ops {
  const mmFn: CustomGradFn = (...args) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [a2, b2] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [matMulT(dy, b2, false, true, mode), matMulT(a2, dy, true, false, mode)];
      },
    };
  };
  const mmGrad = tf.customGrad(mmFn);
  const mm = (x: tf.Tensor, w: tf.Tensor): tf.Tensor2D => mmGrad(x, w) as tf.Tensor2D;
  // y = x·w + b in one fused kernel; db = 1ᵀ·dy as a rank-2 matmul (a Sum over axis 0 is about
  // 10× slower on wasm, which reduces the last axis only and transposes first).
  const linearFn: CustomGradFn = (...args) => {
    const [a, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
    save([a, w]);
    return {
      value: tf.fused.matMul({ a, b: w, bias: b }),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [a2, w2] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [
          matMulT(dy, w2, false, true, mode),
          matMulT(a2, dy, true, false, mode),
          columnSum(dy),
        ];
      },
    };
  };
  const linearGrad = tf.customGrad(linearFn);
  return {
    mode,
    mm,
    linear(x, w, b) {
      return (b === undefined ? mm(x, w) : linearGrad(x, w, b)) as tf.Tensor2D;
    },
    gatherRows(x, idx) {
      const rows = x.shape[0] ?? 0;
      const fn: CustomGradFn = (...args) => {
        const [xIn, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
        // Saved so the tape keeps it alive: the caller's tidy may dispose `idx` before backprop.
        save([idx]);
        return {
          value: tf.gather(xIn, idx),
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const idx = saved[0] as tf.Tensor1D;
            if (hasFastScatter()) {
              return [tf.unsortedSegmentSum(dy, idx, rows)];
            }
            // dx = oneHot(idx, R)ᵀ·dy; the OneHot kernel is a fill (a broadcast Equal building the
            // transposed matrix directly was 100× slower on wasm).
            return [matMulT(tf.oneHot(idx, rows), dy, true, false, mode)];
          },
        };
      };
      return tf.customGrad(fn)(x) as tf.Tensor2D;
    },
  };
}

/** Sum over the rows of `x [N, D]` as the rank-2 product `1ᵀ·x` → `[D]`. */
export function columnSum(x: tf.Tensor): tf.Tensor1D {
  const [n, d] = x.shape as [number, number];
  return tf.reshape(tf.matMul(tf.ones([1, n]), x as tf.Tensor2D), [d]) as tf.Tensor1D;
}

/**
 * LayerNorm over the last axis: `y = x̂·w + b`, `x̂ = (x − μ)/sqrt(σ² + ε)` with the population
 * variance (Ba et al. 2016, arXiv:1607.06450; PyTorch `nn.LayerNorm`). `x [N, D]`, `w`, `b` `[D]`.
 * One custom op: backward `dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂))` with `g = dy ⊙ w`, `r` the
 * reciprocal std, `dw = 1ᵀ(dy ⊙ x̂)`, `db = 1ᵀdy` (x̂ is recomputed from the saved input: a
 * custom gradient may only keep inputs and outputs). Where the backend registers the fused
 * `CovrlLayerNorm`/`CovrlLayerNormGrad` kernels (`fused.ts`), forward and backward are one kernel
 * each, with the same formulas.
 */
export function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  const stats = (xIn: tf.Tensor): { xHat: tf.Tensor; r: tf.Tensor } => {
    const xc = tf.sub(xIn, tf.mean(xIn, -1, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps));
    return { xHat: tf.mul(xc, r), r };
  };
  const fn: CustomGradFn = (...args) => {
    const [xIn, wIn, bIn, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: hasFusedKernel('CovrlLayerNorm')
        ? runFused('CovrlLayerNorm', { x: xIn, weight: wIn, bias: bIn }, { epsilon: eps })
        : tf.add(tf.mul(stats(xIn).xHat, wIn), bIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xS, wS] = saved as [tf.Tensor, tf.Tensor];
        if (hasFusedKernel('CovrlLayerNormGrad')) {
          return runFusedMany('CovrlLayerNormGrad', { dy, x: xS, weight: wS }, { epsilon: eps });
        }
        const { xHat, r } = stats(xS);
        const g = tf.mul(dy, wS);
        const inner = tf.sub(
          tf.sub(g, tf.mean(g, -1, true)),
          tf.mul(xHat, tf.mean(tf.mul(g, xHat), -1, true)),
        );
        return [tf.mul(inner, r), columnSum(tf.mul(dy, xHat)), columnSum(dy)];
      },
    };
  };
  return tf.customGrad(fn)(x, w, b) as tf.Tensor2D;
}

/**
 * RMSNorm over the last axis: `y = x·r·w`, `r = 1/sqrt(mean(x²) + ε)` (Zhang & Sennrich 2019,
 * arXiv:1910.07467; HF `LlamaRMSNorm`). `x [N, D]`, `w [D]`. Backward
 * `dx = r·(g − x̂·mean(g ⊙ x̂))`, `g = dy ⊙ w`, `x̂ = x·r`, `dw = 1ᵀ(dy ⊙ x̂)`. One fused kernel
 * each way where the backend registers `CovrlRmsNorm`/`CovrlRmsNormGrad`.
 */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor2D {
  const rOf = (xIn: tf.Tensor): tf.Tensor =>
    tf.rsqrt(tf.add(tf.mean(tf.mul(xIn, xIn), -1, true), eps));
  const fn: CustomGradFn = (...args) => {
    const [xIn, wIn, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: hasFusedKernel('CovrlRmsNorm')
        ? runFused('CovrlRmsNorm', { x: xIn, weight: wIn }, { epsilon: eps })
        : tf.mul(tf.mul(xIn, rOf(xIn)), wIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xS, wS] = saved as [tf.Tensor, tf.Tensor];
        if (hasFusedKernel('CovrlRmsNormGrad')) {
          return runFusedMany('CovrlRmsNormGrad', { dy, x: xS, weight: wS }, { epsilon: eps });
        }
        const r = rOf(xS);
        const xHat = tf.mul(xS, r);
        const g = tf.mul(dy, wS);
        const dx = tf.mul(tf.sub(g, tf.mul(xHat, tf.mean(tf.mul(g, xHat), -1, true))), r);
        return [dx, columnSum(tf.mul(dy, xHat))];
      },
    };
  };
  return tf.customGrad(fn)(x, w) as tf.Tensor2D;
}

/**
 * `x[idx]` along the first axis for DISTINCT indices `idx` (each row of `x` read at most once),
 * `x [R, …]` → `[M, …]`. Gradient: `dx = [dy ‖ 0][inv]` with `inv[r] = m` where `idx[m] = r`,
 * else `M` (the appended zero row): a gather, so it needs no `UnsortedSegmentSum` (missing on
 * wasm) and no `[M, R]` one-hot. Index arrays are host data; `R` is `x.shape[0]`. `constantRow`
 * may repeat: it marks a row that is a constant (e.g. an appended zero for padding), whose
 * gradient is dropped.
 * @throws Error when an index repeats or is out of range.
 */
export function injectiveGather(
  x: tf.Tensor,
  idx: readonly number[],
  rows: number,
  constantRow?: number,
): tf.Tensor {
  const inv = new Int32Array(rows).fill(idx.length);
  idx.forEach((r, m) => {
    if (r === constantRow) return;
    if (!(r >= 0 && r < rows) || inv[r] !== idx.length) {
      throw new Error(`injectiveGather: index ${r} at ${m} is out of [0, ${rows}) or repeated`);
    }
    inv[r] = m;
  });
  const fn: CustomGradFn = (...args) => {
    const [xIn, idxIn, invIn, save] = args as [
      tf.Tensor,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.GradSaveFunc,
    ];
    save([idxIn, invIn]);
    return {
      value: tf.gather(xIn, idxIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [idxS, invS] = saved as [tf.Tensor1D, tf.Tensor1D];
        const padded = tf.concat([dy, tf.zeros([1, ...dy.shape.slice(1)])], 0);
        return [tf.gather(padded, invS), tf.zerosLike(idxS), tf.zerosLike(invS)];
      },
    };
  };
  return tf.customGrad(fn)(x, tf.tensor1d(Array.from(idx), 'int32'), tf.tensor1d(inv, 'int32'));
}

/**
 * `log softmax(z)[target]` per row, `z [M, V]`, `targets [M]` int32 → `[M]`, as one custom op:
 * value `z[target] − logsumexp(z)` (max-shifted, numerically safe), gradient
 * `dz = dy·(oneHot(target) − softmax(z))`. Avoids the slow broadcast `Equal` of the `max`
 * gradient on wasm and needs no scatter kernel.
 */
export function targetLogProbs(z: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  const depth = z.shape[1] ?? 0;
  const fn: CustomGradFn = (...args) => {
    const [zIn, tIn, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([zIn, tIn]);
    const m = tf.max(zIn, -1, true);
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(zIn, m)), -1, true)), m);
    const picked = tf.sum(tf.mul(zIn, tf.oneHot(tIn, depth)), -1, true);
    return {
      value: tf.reshape(tf.sub(picked, lse), [-1]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zS, tS] = saved as [tf.Tensor2D, tf.Tensor1D];
        const diff = tf.sub(tf.oneHot(tS, depth), tf.softmax(zS));
        return [tf.mul(diff, tf.reshape(dy, [-1, 1])), tf.zerosLike(tS)];
      },
    };
  };
  return tf.customGrad(fn)(z, targets) as tf.Tensor1D;
}

/** √(2/π)·2: `0.5·(1 + tanh(z)) = σ(2z)`. */
const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GPT-2's tanh GELU, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715x³)))` (Hendrycks & Gimpel 2016,
 * arXiv:1606.08415 §2; HF `gelu_new`), computed EXACTLY (not approximated) through the identity
 * `0.5·(1 + tanh(z)) = σ(2z)`: `y = x·s`, `s = σ(c·x·(1 + a·x²))`, `c = 2√(2/π)`, `a = 0.044715`.
 * `tanh` is about 8× slower than `sigmoid` on wasm, and `x³` is written as products because `pow`
 * is slow there too. One custom op: `dy/dx = s + x·s·(1 − s)·c·(1 + 3a·x²)`; one kernel each way
 * where the backend registers `CovrlGelu`/`CovrlGeluGrad`.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const fn: CustomGradFn = (...args) => {
    const [xIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([xIn]);
    const sOf = (v: tf.Tensor, v2: tf.Tensor): tf.Tensor =>
      tf.sigmoid(tf.mul(v, tf.add(tf.mul(v2, GELU_A * GELU_C), GELU_C)));
    return {
      value: hasFusedKernel('CovrlGelu')
        ? runFused('CovrlGelu', { x: xIn })
        : tf.mul(xIn, sOf(xIn, tf.mul(xIn, xIn))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xS = saved[0] as tf.Tensor;
        if (hasFusedKernel('CovrlGeluGrad')) return [runFused('CovrlGeluGrad', { dy, x: xS })];
        const x2 = tf.mul(xS, xS);
        const s = sOf(xS, x2);
        const slope = tf.mul(
          tf.mul(xS, tf.sub(s, tf.mul(s, s))),
          tf.add(tf.mul(x2, 3 * GELU_A * GELU_C), GELU_C),
        );
        return [tf.mul(dy, tf.add(s, slope))];
      },
    };
  };
  return tf.customGrad(fn)(x);
}

/**
 * SwiGLU's gated product `silu(g)·u = g·σ(g)·u` (Shazeer 2020, arXiv:2002.05202; Llama's MLP) as
 * one custom op: `dg = dy·u·σ(g)·(1 + g·(1 − σ(g)))`, `du = dy·g·σ(g)`; one kernel each way
 * where the backend registers `CovrlSiluGate`/`CovrlSiluGateGrad`.
 */
export function siluGate(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  const fn: CustomGradFn = (...args) => {
    const [gIn, uIn, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([gIn, uIn]);
    return {
      value: hasFusedKernel('CovrlSiluGate')
        ? runFused('CovrlSiluGate', { gate: gIn, up: uIn })
        : tf.mul(tf.mul(gIn, tf.sigmoid(gIn)), uIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gS, uS] = saved as [tf.Tensor, tf.Tensor];
        if (hasFusedKernel('CovrlSiluGateGrad')) {
          return runFusedMany('CovrlSiluGateGrad', { dy, gate: gS, up: uS });
        }
        const s = tf.sigmoid(gS);
        const silu = tf.mul(gS, s);
        const dSilu = tf.add(s, tf.sub(silu, tf.mul(silu, s)));
        return [tf.mul(tf.mul(dy, uS), dSilu), tf.mul(dy, silu)];
      },
    };
  };
  return tf.customGrad(fn)(g, u);
}

/** The per-block functions the decoder needs, differentiable or inference-only. */
export interface Blocks {
  mm(x: tf.Tensor, w: tf.Tensor): tf.Tensor2D;
  linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D;
  gatherRows(x: tf.Tensor, idx: tf.Tensor1D): tf.Tensor2D;
  layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D;
  rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor2D;
  gelu(x: tf.Tensor): tf.Tensor;
  siluGate(g: tf.Tensor, u: tf.Tensor): tf.Tensor;
}

/** Differentiable blocks: the custom-gradient ops above. */
export function trainingBlocks(ops: Ops): Blocks {
  return {
    mm: ops.mm,
    linear: ops.linear,
    gatherRows: ops.gatherRows,
    layerNorm,
    rmsNorm,
    gelu,
    siluGate,
  };
}

/**
 * Inference blocks: the same formulas as plain kernels (no custom-gradient scopes, which cost
 * per-op overhead that dominates small decoding steps).
 */
export const inferenceBlocks: Blocks = {
  mm: (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
  linear: (x, w, b) =>
    b === undefined
      ? tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D)
      : (tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }) as tf.Tensor2D),
  gatherRows: (x, idx) => tf.gather(x, idx) as tf.Tensor2D,
  layerNorm(x, w, b, eps) {
    if (hasFusedKernel('CovrlLayerNorm')) {
      return runFused('CovrlLayerNorm', { x, weight: w, bias: b }, { epsilon: eps }) as tf.Tensor2D;
    }
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const r = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps));
    return tf.add(tf.mul(tf.mul(xc, r), w), b) as tf.Tensor2D;
  },
  rmsNorm(x, w, eps) {
    if (hasFusedKernel('CovrlRmsNorm')) {
      return runFused('CovrlRmsNorm', { x, weight: w }, { epsilon: eps }) as tf.Tensor2D;
    }
    return tf.mul(
      tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.mul(x, x), -1, true), eps))),
      w,
    ) as tf.Tensor2D;
  },
  gelu(x) {
    if (hasFusedKernel('CovrlGelu')) return runFused('CovrlGelu', { x });
    return tf.mul(x, tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.mul(x, x), GELU_A * GELU_C), GELU_C))));
  },
  siluGate(g, u) {
    if (hasFusedKernel('CovrlSiluGate')) return runFused('CovrlSiluGate', { gate: g, up: u });
    return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
  },
};

/**
 * Inference blocks for decoding steps, where per-kernel overhead dominates: activations stay
 * rank-3 `[1, B, D]` and products call the `BatchMatMul` / `_FusedMatMul` kernels directly with
 * weights reshaped once to `[1, K, M]` (kept in `weights3d`, owned by the caller), which removes the
 * three `Reshape` kernels `tf.matMul` adds around every product (about a third of a step's kernels).
 */
export function decodeBlocks(weights3d: Map<tf.Tensor, tf.Tensor>): Blocks {
  const as3d = (w: tf.Tensor): tf.Tensor => {
    let w3 = weights3d.get(w);
    if (w3 === undefined) {
      w3 = tf.keep(tf.reshape(w, [1, ...w.shape]));
      weights3d.set(w, w3);
    }
    return w3;
  };
  // One-hot operands arrive as int32 (the wasm OneHot kernel ignores a float dtype); the kernels
  // need float32, which tf.matMul would have cast implicitly.
  const a3 = (x: tf.Tensor): tf.Tensor => {
    const f = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    return f.rank === 3 ? f : tf.reshape(f, [1, ...f.shape]);
  };
  const attrs = { transposeA: false, transposeB: false };
  const mm = (x: tf.Tensor, w: tf.Tensor): tf.Tensor2D =>
    tf.engine().runKernel('BatchMatMul', { a: a3(x), b: as3d(w) }, attrs) as tf.Tensor2D;
  return {
    ...inferenceBlocks,
    mm,
    linear: (x, w, b) =>
      b === undefined
        ? mm(x, w)
        : (tf
            .engine()
            .runKernel(
              '_FusedMatMul',
              { a: a3(x), b: as3d(w), bias: b },
              { ...attrs, activation: 'linear' },
            ) as tf.Tensor2D),
  };
}

/**
 * Host-side RoPE tables for the given positions: `cos` and signed `sin`, each `[P·hd]` laid out
 * `[P, hd]`, with `θ_i = base^(−2i/hd)` duplicated over the two halves (HF Llama's
 * `rotate_half` convention). The sin table carries the sign of `rotate_half`: `−sin` on the first
 * half, `+sin` on the second, so that `rope(x) = x·cos + swapHalves(x)·sinSigned`.
 * Source: Su et al. 2021, arXiv:2104.09864 §3.4; HF `modeling_llama.apply_rotary_pos_emb`.
 */
export function ropeTables(
  positions: ArrayLike<number>,
  headDim: number,
  base: number,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(base, (2 * i) / headDim);
  const n = positions.length;
  const cos = new Float32Array(n * headDim);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    const pos = positions[p] ?? 0;
    const o = p * headDim;
    for (let i = 0; i < half; i++) {
      const angle = pos * (invFreq[i] ?? 0);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[o + i] = c;
      cos[o + half + i] = c;
      sin[o + i] = -s;
      sin[o + half + i] = s;
    }
  }
  return { cos, sin };
}

/**
 * Apply RoPE to `x [N, heads·hd]` given per-row tables `cos`, `sin` of shape `[N, 1, hd]`
 * (from {@link ropeTables}). `swapHalves` is a reverse over a `[.., 2, hd/2]` view.
 */
export function applyRope(
  x: tf.Tensor,
  heads: number,
  cos: tf.Tensor,
  sin: tf.Tensor,
): tf.Tensor2D {
  const width = x.shape[x.rank - 1] ?? 0;
  const n = x.size / width;
  const hd = width / heads;
  const x3 = tf.reshape(x, [n, heads, hd]);
  const swapped = tf.reshape(tf.reverse(tf.reshape(x, [n, heads, 2, hd / 2]), 2), [n, heads, hd]);
  const out: tf.Tensor = tf.reshape(
    tf.add(tf.mul(x3, cos), tf.mul(swapped, sin)),
    x.shape as number[],
  );
  return out as tf.Tensor2D;
}
