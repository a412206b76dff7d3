/**
 * Batched sampling with a KV cache.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FinishReason, GenerateRequest, GeneratedRow } from '@covrl/sampler';
import type { Decoder } from './gpt.js';
import { leftPadKeyBias } from './gpt.js';
import { canWriteInPlace, disposeKvCache, selectCacheRows, withCapacity } from './kv-cache.js';
import type { KvCache } from './kv-cache.js';
import { tidyObject } from './layers.js';
import {
  DEVICE_SAMPLING_MIN_VOCAB,
  sampleOnDevice,
  TOP_P_RELATIVE_SLACK,
} from './device-sampling.js';
import { createRng } from './rng.js';
import type { Rng } from './rng.js';
import type { SamplingSettings } from './sampling-settings.js';
import { checkIds } from './score.js';

function fail(argument: string, why: string): never {
  throw new Error(`generate: ${argument} ${why}`);
}

export type { SamplingSettings } from './sampling-settings.js';

/**
 * Draw one token from a row of log-probs (`logProbs`, length V, already at temperature τ) with
 * one uniform from `rng` (always consumed, also when greedy, so a row's random stream does not
 * depend on the settings of other rows). Greedy: the first arg-max. Otherwise: keep the `topK`
 * most likely ids (ties broken by lower id), then the smallest prefix of them, by decreasing
 * probability, whose renormalised mass is ≥ `topP` (HF `TopKLogitsWarper` then
 * `TopPLogitsWarper`), and invert the CDF of the kept set. The top-p test is
 * `cum ≥ topP·total·(1 − TOP_P_RELATIVE_SLACK)`: a prefix whose mass is `topP` in exact
 * arithmetic (tied tokens, e.g. 3 of 5 equal ones at top-p 0.6) is kept whatever the rounding,
 * the same on the float64 host and the float32 device.
 * Host-side; {@link sampleOnDevice} is its on-device twin, which `generate` uses from
 * {@link DEVICE_SAMPLING_MIN_VOCAB} tokens on (see there for the measurements).
 */
export function sampleFromLogProbs(
  logProbs: ArrayLike<number>,
  settings: SamplingSettings,
  rng: Rng,
): number {
  const u = rng.next();
  const V = logProbs.length;
  if (settings.temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++)
      if ((logProbs[i] ?? -Infinity) > (logProbs[best] ?? -Infinity)) best = i;
    return best;
  }
  const filtered = settings.topK > 0 && settings.topK < V;
  if (!filtered && settings.topP >= 1) {
    let total = 0;
    for (let i = 0; i < V; i++) total += Math.exp(logProbs[i] ?? -Infinity);
    const target = u * total;
    let cum = 0;
    for (let i = 0; i < V; i++) {
      cum += Math.exp(logProbs[i] ?? -Infinity);
      if (cum > target) return i;
    }
    return V - 1;
  }
  const order = Array.from({ length: V }, (_, i) => i);
  order.sort((a, b) => (logProbs[b] ?? 0) - (logProbs[a] ?? 0) || a - b);
  let kept = filtered ? settings.topK : V;
  const probs = new Float64Array(kept);
  let total = 0;
  for (let r = 0; r < kept; r++) {
    probs[r] = Math.exp(logProbs[order[r] ?? 0] ?? -Infinity);
    total += probs[r] ?? 0;
  }
  if (settings.topP < 1) {
    let cum = 0;
    for (let r = 0; r < kept; r++) {
      cum += probs[r] ?? 0;
      if (cum >= settings.topP * (1 - TOP_P_RELATIVE_SLACK) * total) {
        kept = r + 1;
        total = cum;
        break;
      }
    }
  }
  const target = u * total;
  let cum = 0;
  for (let r = 0; r < kept; r++) {
    cum += probs[r] ?? 0;
    if (cum > target) return order[r] ?? 0;
  }
  return order[kept - 1] ?? 0;
}

/** Row-wise `log softmax(z/τ)` of a row-major `[B, V]` array (max-shifted, float64 sums). */
function hostLogSoftmax(z: Float32Array, V: number, temperature: number): Float64Array {
  const out = new Float64Array(z.length);
  const inv = 1 / temperature;
  for (let o = 0; o < z.length; o += V) {
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, (z[o + i] ?? 0) * inv);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp((z[o + i] ?? 0) * inv - m);
    const lse = m + Math.log(sum);
    for (let i = 0; i < V; i++) out[o + i] = (z[o + i] ?? 0) * inv - lse;
  }
  return out;
}

/**
 * One sampling step for every row of `logits [B, V]` (not consumed): row `b` draws with
 * `rngs[b]` (exactly one `next()` per row, on both paths, so a row's stream does not depend on
 * the path). `onDevice: false` reads the `[B, V]` logits and runs the float64
 * `log softmax(z/τ)` and {@link sampleFromLogProbs} per row on the host; `onDevice: true` runs
 * {@link sampleOnDevice} and reads back only the `B` ids and `B` log-probs. Same ids and
 * log-probs (to float32 rounding) either way; `logProbs[b]` is `log softmax(z_b/τ)[ids[b]]`
 * (τ = 1 when greedy). Leaks no tensor.
 * @throws Error when `rngs` does not hold one generator per row, or (device path) when
 *   `sampleOnDevice` rejects the settings.
 */
export async function sampleRows(
  logits: tf.Tensor2D,
  settings: SamplingSettings,
  rngs: readonly Rng[],
  onDevice: boolean,
): Promise<{ ids: number[]; logProbs: number[] }> {
  const [B, V] = logits.shape;
  if (rngs.length !== B) fail('rngs', `must hold one generator per row (${B})`);
  if (onDevice) {
    const uniforms = rngs.map((rng) => rng.next());
    const drawn = sampleOnDevice(logits, settings, uniforms);
    try {
      const [ids, logProbs] = await Promise.all([drawn.ids.data(), drawn.logProbs.data()]);
      return { ids: Array.from(ids), logProbs: Array.from(logProbs) };
    } finally {
      tf.dispose([drawn.ids, drawn.logProbs]);
    }
  }
  const raw = (await logits.data()) as Float32Array;
  const values = hostLogSoftmax(raw, V, settings.temperature > 0 ? settings.temperature : 1);
  const ids: number[] = [];
  const logProbs: number[] = [];
  rngs.forEach((rng, i) => {
    const row = values.subarray(i * V, (i + 1) * V);
    const id = sampleFromLogProbs(row, settings, rng);
    ids.push(id);
    logProbs.push(row[id] ?? 0);
  });
  return { ids, logProbs };
}

/** Options of {@link generateWith} that are the model's, not the request's. */
export interface GenerateOptions {
  /**
   * Vocabulary size from which each step samples on the device ({@link sampleOnDevice});
   * below it the logits are read and sampled on the host. Default
   * {@link DEVICE_SAMPLING_MIN_VOCAB}; 0 = always on the device, `Infinity` = never.
   */
  readonly deviceSamplingMinVocab?: number;
  /**
   * Diagnostics and tests: called synchronously once per step, before sampling, with the step
   * number (0 = after prefill), the batch rows still running (in the order of the logits rows)
   * and the raw logits `[rows.length, V]` of their next token. The tensor is disposed right after;
   * copy what you need (`dataSync`).
   */
  readonly onLogits?: (step: number, rows: readonly number[], logits: tf.Tensor2D) => void;
}

function endsWith(ids: readonly number[], tail: readonly number[]): boolean {
  if (tail.length > ids.length) return false;
  const off = ids.length - tail.length;
  return tail.every((id, i) => ids[off + i] === id);
}

/**
 * `generate` of {@link CausalLM}. Prompts are left-padded to the longest one: padded keys are
 * hidden by an additive bias and positions restart at 0 at each row's first real token, so every
 * row computes exactly what it would alone (up to float rounding). Prefill runs once over
 * `[B, L_max]`; then one decoding step per new token for the rows still running (finished rows
 * are dropped from the batch and the cache). Each row samples with its own
 * {@link createRng}(`seeds[b]`) stream (one uniform per step), so its text does not depend on the
 * other rows of the batch.
 *
 * Guards: every `prompt.length + maxNewTokens` must be ≤ `maxContext` (an error names the row;
 * nothing is truncated silently). A row ends with `'eos'` when it generates `eosId` (checked
 * first), `'stop'` when its generated ids end with a stop sequence (included), or `'length'` after
 * `maxNewTokens` ids. `logProbs` (when asked) are `log softmax(z/τ)` of the chosen id before any
 * top-k/top-p filtering, i.e. what `scoreTokens` with the same `temperature` returns; with greedy
 * decoding (τ = 0) they are taken at τ = 1.
 *
 * Each step samples with {@link sampleRows}: on the host below
 * `options.deviceSamplingMinVocab` (default {@link DEVICE_SAMPLING_MIN_VOCAB}), on the device
 * from it on; both give the same ids and log-probs from the same seeds.
 */
export async function generateWith(
  decoder: Decoder,
  request: GenerateRequest,
  options: GenerateOptions = {},
): Promise<GeneratedRow[]> {
  const cfg = decoder.config;
  const { prompts, seeds, maxNewTokens } = request;
  const temperature = request.temperature ?? 1;
  const topK = request.topK ?? 0;
  const topP = request.topP ?? 1;
  const stops = request.stopSequences ?? [];
  const eosId = request.eosId;
  if (!Array.isArray(prompts) || prompts.length === 0) fail('prompts', 'must be a non-empty array');
  const B = prompts.length;
  if (!Array.isArray(seeds) || seeds.length !== B || !seeds.every((s) => Number.isInteger(s))) {
    fail('seeds', `must hold one integer per prompt (${B})`);
  }
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    fail('maxNewTokens', `must be an integer ≥ 1, got ${String(maxNewTokens)}`);
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    fail('temperature', `must be a finite number ≥ 0 (0 = greedy), got ${String(temperature)}`);
  }
  if (!Number.isInteger(topK) || topK < 0) fail('topK', `must be an integer ≥ 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) fail('topP', `must be in (0, 1], got ${topP}`);
  if (eosId !== undefined && (!Number.isInteger(eosId) || eosId < 0 || eosId >= cfg.vocabSize)) {
    fail('eosId', `must be a token id in [0, ${cfg.vocabSize}), got ${eosId}`);
  }
  stops.forEach((s, i) => {
    if (!Array.isArray(s) || s.length === 0)
      fail(`stopSequences[${i}]`, 'must be a non-empty id array');
  });
  checkIds('generate', 'stopSequences', stops, cfg.vocabSize);
  checkIds('generate', 'prompts', prompts, cfg.vocabSize);
  prompts.forEach((p, b) => {
    if (p.length === 0) fail(`prompts[${b}]`, 'is empty; give at least one token (e.g. a BOS id)');
    if (p.length + maxNewTokens > cfg.maxContext) {
      fail(
        `prompts[${b}]`,
        `has ${p.length} tokens; with maxNewTokens ${maxNewTokens} that exceeds maxContext ${cfg.maxContext}: shorten the prompt or lower maxNewTokens`,
      );
    }
  });

  const settings: SamplingSettings = { temperature, topK, topP };
  const rngs = seeds.map((s) => createRng(s));
  const onDevice = cfg.vocabSize >= (options.deviceSamplingMinVocab ?? DEVICE_SAMPLING_MIN_VOCAB);
  const lengths = prompts.map((p) => p.length);
  const L = Math.max(...lengths);
  const pad = lengths.map((n) => L - n);
  const out: number[][] = prompts.map(() => []);
  const logProbs: number[][] = prompts.map(() => []);
  const reasons: (FinishReason | undefined)[] = prompts.map(() => undefined);
  let active = prompts.map((_, b) => b);
  let stepIndex = 0;
  const nextPos = [...lengths];

  // A clone: disposing it never frees the `lm_head.weight` variable itself.
  const head = tf.tidy(() => tf.clone(decoder.headWeight()));
  let cache: KvCache | undefined;
  let logits: tf.Tensor2D | undefined;
  const weights3d = new Map<tf.Tensor, tf.Tensor>();
  try {
    // Prefill: [B, L] left-padded, positions max(0, j − pad_b).
    const padded = new Int32Array(B * L);
    const positions = new Int32Array(B * L);
    prompts.forEach((p, b) => {
      padded.set(p, b * L + (pad[b] ?? 0));
      for (let j = 0; j < L; j++) positions[b * L + j] = Math.max(0, j - (pad[b] ?? 0));
    });
    const keyBias = leftPadKeyBias(pad, L);
    const prefill = tidyObject(() => {
      const { hidden, cache: layers } = decoder.forward({
        ids: tf.tensor2d(padded, [B, L], 'int32'),
        positions,
        keyBias,
        withCache: true,
        differentiable: false,
      });
      const D = cfg.dModel;
      const last = tf.reshape(tf.slice(tf.reshape(hidden, [B, L, D]), [0, L - 1, 0], [B, 1, D]), [
        B,
        D,
      ]);
      return { logits: decoder.logits(last, head, false), layers };
    });
    cache = { layers: prefill.layers, keyBias, length: L };
    // With an in-place append kernel, give the cache room for every position it will get
    // (maxNewTokens − 1 appends: the last sampled id is never fed back) and write each step's
    // K/V into it, instead of a concat that copies the whole cache every step.
    if (maxNewTokens > 1 && canWriteInPlace()) cache = withCapacity(cache, L + maxNewTokens - 1);
    logits = prefill.logits;

    for (;;) {
      // Small vocabularies: one host read of the [B, V] logits and a float64 log-softmax at
      // temperature τ (τ = 1 when greedy) on the host, cheaper than the kernels; large ones:
      // sampled on the device, reading back B ids and B log-probs (see DEVICE_SAMPLING_MIN_VOCAB).
      const current = logits as tf.Tensor2D;
      logits = undefined;
      let drawn: { ids: number[]; logProbs: number[] };
      try {
        options.onLogits?.(stepIndex++, active, current);
        drawn = await sampleRows(
          current,
          settings,
          active.map((b) => rngs[b] as Rng),
          onDevice,
        );
      } finally {
        current.dispose();
      }
      const still: number[] = [];
      const keepRows: number[] = [];
      active.forEach((b, i) => {
        const id = drawn.ids[i] ?? 0;
        const ids = out[b] as number[];
        ids.push(id);
        if (request.returnLogProbs === true) {
          (logProbs[b] as number[]).push(drawn.logProbs[i] ?? 0);
        }
        if (eosId !== undefined && id === eosId) reasons[b] = 'eos';
        else if (stops.some((s) => endsWith(ids, s))) reasons[b] = 'stop';
        else if (ids.length >= maxNewTokens) reasons[b] = 'length';
        else {
          still.push(b);
          keepRows.push(i);
        }
      });
      if (still.length === 0) break;
      if (still.length < active.length) cache = selectCacheRows(cache, keepRows);
      active = still;
      const stepIds = tf.tensor1d(
        active.map((b) => (out[b] as number[])[(out[b] as number[]).length - 1] ?? 0),
        'int32',
      );
      const step = decoder.decodeStep({
        ids: stepIds,
        positions: active.map((b) => nextPos[b] ?? 0),
        cache,
        head,
        weights3d,
      });
      stepIds.dispose();
      cache = step.cache;
      logits = step.logits;
      for (const b of active) nextPos[b] = (nextPos[b] ?? 0) + 1;
    }
  } finally {
    head.dispose();
    tf.dispose([...weights3d.values()]);
    if (cache !== undefined) disposeKvCache(cache);
    logits?.dispose();
  }
  return out.map((ids, b) => {
    const finishReason = reasons[b] ?? 'length';
    return request.returnLogProbs === true
      ? { ids, finishReason, logProbs: logProbs[b] ?? [] }
      : { ids, finishReason };
  });
}
