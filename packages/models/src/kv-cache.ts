/**
 * The key/value cache of batched decoding: per layer `k`, `v` `[B, KV, T, hd]`, plus a
 * per-key additive bias `[B, T]` that hides left padding. Functions here take ownership of the
 * cache they are given and return a new one (the old tensors are disposed).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerKv } from './attention.js';

export interface KvCache {
  readonly layers: readonly LayerKv[];
  /** `[B, T]`: 0 for real keys, `MASK_BIAS` for left padding. */
  readonly keyBias: tf.Tensor2D;
  /** T: number of cached positions (prompt padding included). */
  readonly length: number;
}

/** Dispose every tensor of a cache. */
export function disposeKvCache(cache: KvCache): void {
  for (const layer of cache.layers) tf.dispose([layer.k, layer.v]);
  cache.keyBias.dispose();
}

/**
 * Append one position to a layer's cache: `k`, `v` are `[B, KV·hd]` (head-major columns), so
 * they reshape (free) to `[B, KV, 1, hd]`. Disposes the old layer tensors.
 */
export function appendLayerKv(layer: LayerKv, k: tf.Tensor, v: tf.Tensor): LayerKv {
  const [B, KV, , hd] = layer.k.shape;
  const next = tf.tidy(() => ({
    k: tf.concat([layer.k, tf.reshape(k, [B, KV, 1, hd])], 2) as tf.Tensor4D,
    v: tf.concat([layer.v, tf.reshape(v, [B, KV, 1, hd])], 2) as tf.Tensor4D,
  }));
  tf.dispose([layer.k, layer.v]);
  return next;
}

/**
 * Keep only the given batch rows (for dropping finished rows mid-generation). One `gather` per
 * cached tensor; disposes the old cache.
 */
export function selectCacheRows(cache: KvCache, rows: readonly number[]): KvCache {
  const next = tf.tidy(() => {
    const idx = tf.tensor1d(Array.from(rows), 'int32');
    return {
      layers: cache.layers.map((l) => ({
        k: tf.gather(l.k, idx) as tf.Tensor4D,
        v: tf.gather(l.v, idx) as tf.Tensor4D,
      })),
      keyBias: tf.gather(cache.keyBias, idx) as tf.Tensor2D,
    };
  });
  const out: KvCache = { ...next, length: cache.length };
  disposeKvCache(cache);
  return out;
}
