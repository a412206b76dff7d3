/**
 * Token log-probabilities of large vocabularies in row chunks, so that no `[R, V]` logits tensor
 * is ever held whole (V = 151 936 for Qwen2/Qwen3: 2 048 positions would take 1.2 GB per copy,
 * and the softmax gradient needs several copies).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matMulT } from './layers.js';
import type { MatMulGradientMode } from './layers.js';

/**
 * Default budget of one logits chunk, in float32 elements (2²³ = 32 MiB): the row chunk is
 * `max(1, ⌊budget / V⌋)` rows (55 rows at V = 151 936). Forward and backward each hold about five
 * tensors of that size at a time (logits, exponentials, probabilities, one-hot, gradient).
 */
export const LOGITS_CHUNK_ELEMENTS = 1 << 23;

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * `log softmax(h·W / τ)[target]` per row without materialising the `[R, V]` logits:
 * `h [R, D]`, `head W [D, V]` (or `Wᵀ [V, D]` with `headTransposed`, a tied embedding used as
 * it is, never transposed), `targets` (host ids, length R) → `[R]`.
 *
 * Forward, per chunk `c` of `rows` rows: `z_c = h_c·W/τ`, value `z_c[target] − logsumexp(z_c)`
 * (max-shifted, so no overflow at any logit scale). Backward recomputes `z_c` (activation
 * recomputation: only `h` and `W` are saved) and uses `dz_c = dy_c·(oneHot(target) − softmax(z_c))/τ`:
 * `dh_c = dz_c·Wᵀ`, `dW = Σ_c h_cᵀ·dz_c` (accumulated; `Σ_c dz_cᵀ·h_c` for a transposed head).
 * Extra cost: one `[rows, D]·[D, V]` product per chunk in the backward pass; memory:
 * O(rows·V + D·V) instead of O(R·V).
 *
 * @param options.rows - rows per chunk (≥ 1); default `max(1, ⌊LOGITS_CHUNK_ELEMENTS / V⌋)`.
 * @param options.temperature - τ > 0, default 1.
 * @param options.mode - matmul gradient form, as the model's `Ops`.
 * @param options.headTransposed - `head` is `[V, D]` (default false: `[D, V]`).
 * @param options.headGradient - whether `head` needs a gradient (default true). False for a
 *   frozen head (LoRA): the head is then not an input of the op, and neither `dW` nor its
 *   `[D, V]` accumulators are ever allocated. The head must stay alive until the backward pass
 *   (a variable does).
 * @throws Error when `targets.length ≠ R`, an id is outside `[0, V)`, or `rows`/`temperature`
 *   are invalid.
 */
export function chunkedTargetLogProbs(
  h: tf.Tensor2D,
  head: tf.Tensor2D,
  targets: Int32Array,
  options: {
    readonly rows?: number;
    readonly temperature?: number;
    readonly mode?: MatMulGradientMode;
    readonly headTransposed?: boolean;
    readonly headGradient?: boolean;
  } = {},
): tf.Tensor1D {
  const [R, D] = h.shape;
  const transposed = options.headTransposed ?? false;
  const withHeadGrad = options.headGradient ?? true;
  const V = transposed ? head.shape[0] : head.shape[1];
  const tau = options.temperature ?? 1;
  const mode = options.mode ?? 'auto';
  const rows = options.rows ?? Math.max(1, Math.floor(LOGITS_CHUNK_ELEMENTS / V));
  if (!Number.isInteger(rows) || rows < 1) {
    throw new Error(`chunkedTargetLogProbs: options.rows must be an integer ≥ 1, got ${rows}`);
  }
  if (!(tau > 0) || !Number.isFinite(tau)) {
    throw new Error(`chunkedTargetLogProbs: options.temperature must be > 0, got ${tau}`);
  }
  if ((transposed ? head.shape[1] : head.shape[0]) !== D) {
    throw new Error(
      `chunkedTargetLogProbs: head is [${head.shape.join(', ')}], expected ${transposed ? `[V, ${D}]` : `[${D}, V]`}`,
    );
  }
  if (targets.length !== R) {
    throw new Error(`chunkedTargetLogProbs: ${targets.length} targets for ${R} rows`);
  }
  targets.forEach((t, i) => {
    if (!(t >= 0 && t < V)) {
      throw new Error(`chunkedTargetLogProbs: targets[${i}] = ${t} is not in [0, ${V})`);
    }
  });
  const chunks: { start: number; size: number }[] = [];
  for (let s = 0; s < R; s += rows) chunks.push({ start: s, size: Math.min(rows, R - s) });
  const invTau = 1 / tau;
  const logitsOf = (hc: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor => {
    const z = transposed ? matMulT(hc, w, false, true, mode) : tf.matMul(hc, w);
    return tau === 1 ? z : tf.mul(z, invTau);
  };
  const fn: CustomGradFn = (...args) => {
    const hIn = args[0] as tf.Tensor2D;
    const wIn = (withHeadGrad ? args[1] : head) as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save(withHeadGrad ? [hIn, wIn] : [hIn]);
    const parts = chunks.map(({ start, size }) =>
      tf.tidy(() => {
        const z = logitsOf(tf.slice(hIn, [start, 0], [size, D]), wIn);
        const m = tf.max(z, -1, true);
        const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(z, m)), -1, true)), m);
        const flat = Int32Array.from({ length: size }, (_, i) => i * V + (targets[start + i] ?? 0));
        const picked = tf.gather(tf.reshape(z, [-1]), tf.tensor1d(flat, 'int32'));
        return tf.sub(picked, tf.reshape(lse, [-1]));
      }),
    );
    const value = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts);
    if (parts.length > 1) tf.dispose(parts);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const hS = saved[0] as tf.Tensor2D;
        const wS = (withHeadGrad ? saved[1] : head) as tf.Tensor2D;
        let dW: tf.Tensor | undefined;
        const dh: tf.Tensor[] = [];
        for (const { start, size } of chunks) {
          const [dhc, dWc] = tf.tidy(() => {
            const hc = tf.slice(hS, [start, 0], [size, D]);
            const p = tf.softmax(logitsOf(hc, wS));
            const t = tf.tensor1d(targets.subarray(start, start + size), 'int32');
            const dyc = tf.reshape(tf.slice(dy, [start], [size]), [size, 1]);
            let dz: tf.Tensor = tf.mul(tf.sub(tf.oneHot(t, V), p), dyc);
            if (tau !== 1) dz = tf.mul(dz, invTau);
            const dhPart = transposed
              ? tf.matMul(dz as tf.Tensor2D, wS)
              : matMulT(dz, wS, false, true, mode);
            if (!withHeadGrad) return [dhPart, undefined];
            const dWPart = transposed
              ? matMulT(dz, hc, true, false, mode)
              : matMulT(hc, dz, true, false, mode);
            return [dhPart, dW === undefined ? dWPart : tf.add(dW, dWPart)];
          }) as [tf.Tensor, tf.Tensor | undefined];
          if (dWc !== undefined) {
            dW?.dispose();
            dW = dWc;
          }
          dh.push(dhc);
        }
        const dhAll = dh.length === 1 ? (dh[0] as tf.Tensor) : tf.concat(dh);
        if (dh.length > 1) tf.dispose(dh);
        return withHeadGrad ? [dhAll, dW as tf.Tensor] : [dhAll];
      },
    };
  };
  return (withHeadGrad ? tf.customGrad(fn)(h, head) : tf.customGrad(fn)(h)) as tf.Tensor1D;
}
