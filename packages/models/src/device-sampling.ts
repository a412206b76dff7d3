/**
 * Sampling on the device: the on-device twin of `sampleFromLogProbs` (`generate.ts`), for large
 * vocabularies where reading `[B, V]` logits to the host and sorting each row in JavaScript costs
 * more than a handful of kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SamplingSettings } from './sampling-settings.js';

/**
 * Vocabulary size from which `generate` samples on the device ({@link sampleOnDevice}) instead of
 * reading the `[B, V]` logits and sampling on the host. Measured on the wasm backend (2-core
 * Zen 4, random logits of std 3, `benchmarks/src/sampling-step-bench.ts`), ms per step, host /
 * device, temperature 0.8, top-k 50, top-p 0.9:
 *
 * | V | B | greedy | temperature | top-k | top-p | top-k + top-p |
 * |---|---|---|---|---|---|---|
 * | 64 | 16 | 0.11 / 0.26 | 0.21 / 0.47 | 0.24 / 0.73 | 0.31 / 0.50 | 0.21 / 0.50 |
 * | 64 | 64 | 0.15 / 0.20 | 0.25 / 0.27 | 1.0 / 0.43 | 1.1 / 0.54 | 1.1 / 0.44 |
 * | 128 | 16 | 0.12 / 0.51 | 0.21 / 0.51 | 0.69 / 0.68 | 0.62 / 0.59 | 0.43 / 0.36 |
 * | 256 | 16 | 0.09 / 0.14 | 0.15 / 0.16 | 0.84 / 0.21 | 0.95 / 0.43 | 1.2 / 0.30 |
 * | 256 | 64 | 0.42 / 0.24 | 0.70 / 0.50 | 4.7 / 0.82 | 4.5 / 1.4 | 4.2 / 0.62 |
 * | 4096 | 64 | 5.9 / 3.6 | 11.9 / 5.9 | 91 / 4.9 | 90 / 23 | 92 / 5.1 |
 * | 50257 | 16 | 20 / 11 | 28 / 12 | 346 / 15 | 439 / 95 | 407 / 17 |
 * | 50257 | 64 | 87 / 42 | 155 / 64 | 1629 / 50 | 1604 / 338 | 1300 / 43 |
 *
 * Below 256 the host is faster for plain and greedy sampling at batch 16 (the ~15 kernels of the
 * device path cost more than reading a few thousand floats); from 256 on the device is as fast or
 * faster in every mode but greedy at batch 16 (0.05 ms slower), and at real vocabularies the
 * host's per-row sort of the whole vocabulary makes top-k/top-p 20–30× slower.
 */
export const DEVICE_SAMPLING_MIN_VOCAB = 256;

/**
 * Relative slack of the top-p test of both samplers, `cum ≥ topP·total·(1 − slack)`: float32
 * rounding of `topP` and of the cumulative sums is about 1e-7, so a prefix whose mass equals
 * `topP` exactly (tied tokens) is kept on both paths instead of depending on rounding.
 */
export const TOP_P_RELATIVE_SLACK = 1e-6;

function fail(argument: string, why: string): never {
  throw new Error(`sampleOnDevice: ${argument} ${why}`);
}

/** `t[b, col[b]]` for `t [B, N]`, `col [B]` int32: one flat gather (no `batchDims` kernel). */
function pickPerRow(t: tf.Tensor2D, col: tf.Tensor1D): tf.Tensor1D {
  const [B, N] = t.shape;
  const flat = tf.add(col, tf.mul(tf.range(0, B, 1, 'int32'), tf.scalar(N, 'int32')));
  return tf.gather(tf.reshape(t, [B * N]), flat) as tf.Tensor1D;
}

/**
 * Per row, how many entries of the non-decreasing rows `cum [B, N]` are `≤ bound[b]` (`< bound[b]`
 * when `strict`), for `bound [B, 1]`: a binary search (`tf.searchSorted`), which is what
 * `sum(cast(lessEqual(cum, bound)))` computes, without its broadcast comparison (40–50 ms at
 * `[64, 4096]` on wasm, where the search takes well under 1 ms).
 */
function countBelow(cum: tf.Tensor2D, bound: tf.Tensor, strict: boolean): tf.Tensor1D {
  const [B] = cum.shape;
  return tf.reshape(tf.searchSorted(cum, bound, strict ? 'left' : 'right'), [B]) as tf.Tensor1D;
}

/**
 * Draw one token per row of `logits [B, V]` on the device, with exactly the semantics of
 * `sampleFromLogProbs` applied to `log softmax(logits/τ)` and the uniform `uniforms[b]`
 * (the caller draws it with one `rng.next()` per row, also when greedy, as the host path does):
 *
 * - greedy (`temperature` 0): the first arg-max of the logits; the log-prob is taken at τ = 1;
 * - no filter (`topK` 0 or ≥ V, `topP` 1): inverse CDF in id order, `id = #{i : C_i ≤ u·C_V}`
 *   with `C = cumsum(exp(z/τ − max))` (the count is the first index whose cumulative mass
 *   exceeds `u·total`, the host loop's `if (cum > target) return i`), clamped to `V − 1`;
 * - top-k / top-p: the ids sorted by decreasing logit (`tf.topk`, ties by lower id), cut to the
 *   `topK` first (k = V when top-k is off), then to the smallest prefix
 *   `n = 1 + #{r : C_r < p·(1 − ε)·C_k}` whose mass is ≥ `topP` of the kept mass (ε =
 *   {@link TOP_P_RELATIVE_SLACK}, as on the host), and the inverse CDF of that prefix
 *   (`r = min(#{r : C_r ≤ u·C_n}, n − 1)`).
 *
 * Reported log-probs are `log softmax(z/τ)[id]` before any filtering (`z/τ − max − log Σ exp`).
 * Float32 arithmetic on the device against float64 on the host: the log-probs agree to about
 * 1e-6, and an id can differ only when `u` falls within float32 rounding of a CDF boundary.
 *
 * @param logits - `[B, V]` float32 logits (not divided by τ).
 * @param uniforms - `B` numbers in `[0, 1)`.
 * @returns `ids [B]` int32 and `logProbs [B]` float32 (caller owns both); nothing else is kept.
 * @throws Error naming the argument when shapes or settings are invalid.
 */
export function sampleOnDevice(
  logits: tf.Tensor2D,
  settings: SamplingSettings,
  uniforms: ArrayLike<number>,
): { ids: tf.Tensor1D; logProbs: tf.Tensor1D } {
  if (!(logits instanceof tf.Tensor) || logits.rank !== 2) {
    fail('logits', `must be a [B, V] tensor, got rank ${String((logits as tf.Tensor).rank)}`);
  }
  const [B, V] = logits.shape;
  if (uniforms.length !== B) fail('uniforms', `must hold one number per row (${B})`);
  for (let b = 0; b < B; b++) {
    const u = uniforms[b] ?? NaN;
    if (!(u >= 0 && u < 1)) fail(`uniforms[${b}]`, `must be in [0, 1), got ${u}`);
  }
  const { temperature, topK, topP } = settings;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    fail('settings.temperature', `must be a finite number ≥ 0, got ${String(temperature)}`);
  }
  if (!Number.isInteger(topK) || topK < 0) fail('settings.topK', `must be an integer ≥ 0`);
  if (!(topP > 0 && topP <= 1)) fail('settings.topP', `must be in (0, 1], got ${topP}`);
  return tf.tidy(() => {
    const z = logits.dtype === 'float32' ? logits : (tf.cast(logits, 'float32') as tf.Tensor2D);
    const greedy = temperature === 0;
    const inv = greedy ? 1 : 1 / temperature;
    const s = inv === 1 ? z : (tf.mul(z, inv) as tf.Tensor2D); // z/τ, [B, V]
    const m = tf.max(s, 1, true); // [B, 1]
    const e = tf.exp(tf.sub(s, m)) as tf.Tensor2D; // [B, V], in (0, 1]
    const lse = tf.reshape(tf.add(m, tf.log(tf.sum(e, 1, true))), [B]); // [B]
    const logProbOf = (scaled: tf.Tensor1D): tf.Tensor1D => tf.sub(scaled, lse) as tf.Tensor1D;
    if (greedy) {
      const ids = tf.cast(tf.argMax(z, 1), 'int32') as tf.Tensor1D;
      return { ids, logProbs: logProbOf(pickPerRow(s, ids)) };
    }
    const u = tf.tensor2d(Float32Array.from(uniforms), [B, 1]);
    const filtered = topK > 0 && topK < V;
    if (!filtered && topP >= 1) {
      const cum = tf.cumsum(e, 1) as tf.Tensor2D; // id order, as the host loop
      const target = tf.mul(u, tf.slice(cum, [0, V - 1], [B, 1])); // u·total, [B, 1]
      const ids = tf.minimum(
        countBelow(cum, target, false),
        tf.scalar(V - 1, 'int32'),
      ) as tf.Tensor1D;
      return { ids, logProbs: logProbOf(pickPerRow(s, ids)) };
    }
    const k = filtered ? topK : V;
    // Sorted by decreasing logit, ties by lower id (tf.topk is stable on cpu and wasm).
    const top = tf.topk(z, k, true);
    const sorted = inv === 1 ? top.values : (tf.mul(top.values, inv) as tf.Tensor2D); // [B, k]
    const cum = tf.cumsum(tf.exp(tf.sub(sorted, m)), 1) as tf.Tensor2D; // [B, k]
    const one = tf.scalar(1, 'int32');
    let kept: tf.Tensor1D = tf.fill([B], k, 'int32') as tf.Tensor1D; // n per row
    let mass = tf.slice(cum, [0, k - 1], [B, 1]); // C_n, [B, 1]
    if (topP < 1) {
      // #{r : C_r < p·(1 − slack)·C_k}
      const cut = countBelow(cum, tf.mul(mass, topP * (1 - TOP_P_RELATIVE_SLACK)), true);
      kept = tf.minimum(tf.add(cut, one), tf.scalar(k, 'int32')) as tf.Tensor1D;
      mass = tf.reshape(pickPerRow(cum, tf.sub(kept, one) as tf.Tensor1D), [B, 1]);
    }
    const rank = tf.minimum(countBelow(cum, tf.mul(u, mass), false), tf.sub(kept, one));
    const ids = pickPerRow(top.indices, rank as tf.Tensor1D);
    return { ids, logProbs: logProbOf(pickPerRow(sorted, rank as tf.Tensor1D)) };
  });
}
