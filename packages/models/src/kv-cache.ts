/**
 * The key/value cache of batched decoding: per layer `k`, `v` `[B, KV, T, hd]`, plus a
 * per-key additive bias `[B, T]` that hides left padding. Functions here take ownership of the
 * cache they are given and return a new one (the old tensors are disposed).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASK_BIAS } from './attention.js';
import type { LayerKv } from './attention.js';
import { hasFusedKernel, runFused } from './fused.js';

export interface KvCache {
  readonly layers: readonly LayerKv[];
  /** `[B, T]`: 0 for real keys, `MASK_BIAS` for left padding. */
  readonly keyBias: tf.Tensor2D;
  /** T: number of cached positions (prompt padding included). */
  readonly length: number;
  /**
   * When true the tensors have a fixed capacity (their T axis is longer than `length`; unused
   * slots are zeros hidden by {@link MASK_BIAS} in `keyBias`) and each step writes its position
   * IN PLACE with the backend's `CovrlKvWrite` kernel ({@link writePosition}) instead of a copying
   * concat. Only a decoding loop that owns the cache may do this.
   */
  readonly inPlace?: boolean;
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

/** Whether the current backend can append to a cache in place (`CovrlKvWrite`). */
export function canWriteInPlace(): boolean {
  return hasFusedKernel('CovrlKvWrite');
}

/**
 * A prefill cache of `length` positions padded to `capacity` positions for in-place appends:
 * keys and values with zeros, `keyBias` with {@link MASK_BIAS} (so the empty slots get zero
 * attention weight). Disposes the given cache.
 */
export function withCapacity(cache: KvCache, capacity: number): KvCache {
  const extra = capacity - cache.length;
  if (!(Number.isInteger(capacity) && extra >= 0)) {
    throw new Error(`withCapacity: capacity ${capacity} is below the cache length ${cache.length}`);
  }
  const next = tf.tidy(() => ({
    layers: cache.layers.map((l) => ({
      k: tf.pad(l.k, [
        [0, 0],
        [0, 0],
        [0, extra],
        [0, 0],
      ]) as tf.Tensor4D,
      v: tf.pad(l.v, [
        [0, 0],
        [0, 0],
        [0, extra],
        [0, 0],
      ]) as tf.Tensor4D,
    })),
    keyBias: tf.pad(
      cache.keyBias,
      [
        [0, 0],
        [0, extra],
      ],
      MASK_BIAS,
    ) as tf.Tensor2D,
  }));
  disposeKvCache(cache);
  return { ...next, length: cache.length, inPlace: true };
}

/**
 * Write `update` (`B·H·hd` values: `[B, H·hd]` rows, head-major) at slot `position` of
 * `target [B, H, T, hd]` (or `[B, T]` with `B` values), in place (the `CovrlKvWrite` kernel);
 * `target` keeps its identity and now holds the new values. The kernel refuses a `target` whose
 * memory another tensor shares.
 */
export function writePosition(
  target: tf.Tensor4D | tf.Tensor2D,
  update: tf.Tensor,
  position: number,
): void {
  runFused('CovrlKvWrite', { cache: target, update }, { position }).dispose();
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
  const out: KvCache = {
    ...next,
    length: cache.length,
    ...(cache.inPlace === true ? { inPlace: true } : {}),
  };
  disposeKvCache(cache);
  return out;
}
