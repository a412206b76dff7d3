/**
 * Causal multi-head / grouped-query attention as one `tf.customGrad` op.
 *
 * Layout (no `[T, T]` tensor is ever transposed): the G = H/KV query heads that share a key/value
 * head are stacked along the rows, so every product is a batched matmul over `B·KV`:
 * `Q [B·KV, G·L, hd]`, `Kᵀ [B·KV, hd, L]` (produced already transposed), `V [B·KV, L, hd]`.
 * Forward `S = (Q/√hd)·Kᵀ + bias`, `P = softmax(S)`, `O = P·V`. Backward (Vaswani et al. 2017,
 * arXiv:1706.03762; the softmax Jacobian): `dP = dO·Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`,
 * `dQ = dS·K`, `dKᵀ = Qᵀ·dS`, `dV = Pᵀ·dO` (or `(dOᵀ·P)ᵀ` in `'transpose'` mode, which transposes
 * only `[L, hd]`-sized operands).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matMulT, resolveMode, swapLastAxes } from './layers.js';
import type { MatMulGradientMode } from './layers.js';

/** Additive mask value: finite so fully masked (padding) rows give a uniform softmax, never NaN. */
export const MASK_BIAS = -1e9;

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * Per-layer attention cache: `k`, `v` both `[B, KV, T, hd]`, so appending a position is a
 * concatenation of contiguous blocks (appending to a `[B, KV, hd, T]` layout costs one strided
 * copy per row on wasm: 5–10× slower per step).
 */
export interface LayerKv {
  readonly k: tf.Tensor4D;
  readonly v: tf.Tensor4D;
}

/**
 * Additive attention bias `[1 or B, 1, G·L, L]` for the grouped layout: row `g·L + i` may see
 * key `j` iff `j ≤ i` (causal), plus `keyBias [B, L]` (left padding) when given. The causal part
 * is built on the host (a broadcast comparison is slow on wasm) once per forward pass.
 */
export function attentionBias({
  batch,
  length,
  groups,
  keyBias,
}: {
  batch: number;
  length: number;
  groups: number;
  keyBias?: tf.Tensor | undefined;
}): tf.Tensor {
  const L = length;
  const causal = new Float32Array(groups * L * L);
  for (let r = 0; r < groups * L; r++) causal.fill(MASK_BIAS, r * L + (r % L) + 1, (r + 1) * L);
  const bias = tf.tensor4d(causal, [1, 1, groups * L, L]);
  return keyBias === undefined ? bias : tf.add(bias, tf.reshape(keyBias, [batch, 1, 1, L]));
}

/**
 * Causal self-attention over a whole sequence (training, scoring, prefill).
 *
 * @param q `[B·L, H·hd]` (RoPE already applied), `k`, `v` `[B·L, KV·hd]`, rows ordered `b·L + t`.
 * @param keyBias optional `[B, L]` additive bias per key (0 keep, {@link MASK_BIAS} drop), for
 *   left-padded prompts; the causal mask `key ≤ query` is always applied.
 * @returns `out [B·L, H·hd]` and, when `withCache`, the layer's K/V in cache layout.
 */
export function causalSelfAttention({
  q,
  k,
  v,
  batch,
  length,
  nHeads,
  nKvHeads,
  keyBias,
  maskBias,
  mode,
  withCache,
}: {
  q: tf.Tensor;
  k: tf.Tensor;
  v: tf.Tensor;
  batch: number;
  length: number;
  nHeads: number;
  nKvHeads: number;
  keyBias?: tf.Tensor | undefined;
  /** The result of {@link attentionBias} for these sizes (computed once per forward pass). */
  maskBias?: tf.Tensor | undefined;
  mode: MatMulGradientMode;
  withCache: boolean;
}): { out: tf.Tensor2D; cache?: LayerKv } {
  const B = batch;
  const L = length;
  const KV = nKvHeads;
  const G = nHeads / nKvHeads;
  const hd = (q.shape[1] ?? 0) / nHeads;
  const scale = 1 / Math.sqrt(hd);
  // [B·L, H·hd] → [B, L, KV, G, hd] → [B, KV, G, L, hd] → [B·KV, G·L, hd]
  const q3 = tf.reshape(
    tf.transpose(tf.reshape(tf.mul(q, scale), [B, L, KV, G, hd]), [0, 2, 3, 1, 4]),
    [B * KV, G * L, hd],
  );
  const kT4 = tf.transpose(tf.reshape(k, [B, L, KV, hd]), [0, 2, 3, 1]) as tf.Tensor4D;
  const v4 = tf.transpose(tf.reshape(v, [B, L, KV, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
  const kT3 = tf.reshape(kT4, [B * KV, hd, L]);
  const v3 = tf.reshape(v4, [B * KV, L, hd]);

  const bias = maskBias ?? attentionBias({ batch: B, length: L, groups: G, keyBias });
  // Two custom ops so that P is an op OUTPUT (saved without recomputation; tf.customGrad may only
  // save inputs and outputs): P = softmax(Q·Kᵀ + bias), then O = P·V.
  const probsFn: CustomGradFn = (...args) => {
    const [qIn, kTIn, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    const s = tf.reshape(tf.matMul(qIn, kTIn), [B, KV, G * L, L]);
    const p = tf.reshape(tf.softmax(tf.add(s, bias)), [B * KV, G * L, L]) as tf.Tensor3D;
    save([qIn, kTIn, p]);
    return {
      value: p,
      gradFunc: (dP: tf.Tensor, saved: tf.Tensor[]) => {
        const [qS, kTS, pS] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const dS = tf.mul(pS, tf.sub(dP, tf.sum(tf.mul(dP, pS), -1, true)));
        return [matMulT(dS, kTS, false, true, mode), matMulT(qS, dS, true, false, mode)];
      },
    };
  };
  const mixFn: CustomGradFn = (...args) => {
    const [pIn, vIn, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    save([pIn, vIn]);
    return {
      value: tf.matMul(pIn, vIn),
      gradFunc: (dO: tf.Tensor, saved: tf.Tensor[]) => {
        const [pS, vS] = saved as [tf.Tensor3D, tf.Tensor3D];
        const dP = matMulT(dO, vS, false, true, mode);
        const dV =
          resolveMode(mode) === 'flags'
            ? tf.matMul(pS, dO as tf.Tensor3D, true, false)
            : swapLastAxes(tf.matMul(swapLastAxes(dO) as tf.Tensor3D, pS));
        return [dP, dV];
      },
    };
  };
  const p3 = tf.customGrad(probsFn)(q3, kT3);
  const o3 = tf.customGrad(mixFn)(p3, v3);
  // [B·KV, G·L, hd] → [B, KV, G, L, hd] → [B, L, KV, G, hd] → [B·L, H·hd]
  const out = tf.reshape(tf.transpose(tf.reshape(o3, [B, KV, G, L, hd]), [0, 3, 1, 2, 4]), [
    B * L,
    nHeads * hd,
  ]) as tf.Tensor2D;
  if (!withCache) return { out };
  return {
    out,
    cache: { k: tf.transpose(tf.reshape(k, [B, L, KV, hd]), [0, 2, 1, 3]) as tf.Tensor4D, v: v4 },
  };
}

/**
 * One decoding step against a cache (no gradient): `q [B, H·hd]` for the new position, `cache`
 * already holding the new key/value (length T), `keyBias [B, T]` (0 or {@link MASK_BIAS}).
 * `S = q·Kᵀ` (transposeB), `softmax`, `O = P·V`: no explicit transpose.
 * @returns the shape of `q` (`[B, H·hd]` or `[1, B, H·hd]`).
 */
export function decodeAttention({
  q,
  cache,
  keyBias,
  nHeads,
}: {
  q: tf.Tensor;
  cache: LayerKv;
  keyBias: tf.Tensor;
  nHeads: number;
}): tf.Tensor2D {
  const [B, KV, T, hd] = cache.k.shape;
  const G = nHeads / KV;
  const q3 = tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [B * KV, G, hd]);
  const k3 = tf.reshape(cache.k, [B * KV, T, hd]);
  const s = tf.reshape(tf.matMul(q3, k3, false, true), [B, KV, G, T]);
  const p = tf.softmax(tf.add(s, tf.reshape(keyBias, [B, 1, 1, T])));
  const o = tf.matMul(tf.reshape(p, [B * KV, G, T]), tf.reshape(cache.v, [B * KV, T, hd]));
  const out: tf.Tensor = tf.reshape(o, q.shape as number[]);
  return out as tf.Tensor2D;
}
