/**
 * Teacher-forced scoring of token spans in one batched forward pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ScoreRequest, ScoredSpan } from '@covrl/sampler';
import { chunkedTargetLogProbs } from './chunked-logits.js';
import type { Decoder } from './gpt.js';
import { injectiveGather, resolveMode, targetLogProbs, tidyObject } from './layers.js';

function fail(argument: string, why: string): never {
  throw new Error(`scoreTokens: ${argument} ${why}`);
}

/**
 * Check every id of `rows` is an integer in `[0, vocabSize)`.
 * @throws Error naming the argument, row and position.
 */
export function checkIds(
  fn: string,
  argument: string,
  rows: readonly (readonly number[])[],
  vocabSize: number,
): void {
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new Error(`${fn}: ${argument}[${b}] must be an array of ids`);
    row.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(
          `${fn}: ${argument}[${b}][${t}] = ${String(id)} is not a token id in [0, ${vocabSize})`,
        );
      }
    });
  });
}

/**
 * `scoreTokens` of {@link CausalLM}: for each span kind `k` and row `b`,
 * `logProbs[b, t] = log softmax(z_{j−1}/τ)[seq_b[j]]` with `j = start_b + t`, i.e. the token at
 * absolute position `j` is read from the logits at position `j − 1`; `0` where `t ≥ length_b`
 * (mask 0). Shapes `[B, T_k]` with `T_k = max_b length_b` (may be 0).
 *
 * One forward pass over the right-padded batch `[B, L_max]` (padding never influences earlier
 * positions under the causal mask). The head and log-softmax run only on the positions some span
 * needs (each once), gathered from the hidden states; each span kind is then laid out `[B, T_k]`
 * by a second gather. Both gathers are injective, so their gradients are gathers through the
 * inverse index (`injectiveGather`): no scatter kernel, memory linear in `B·L`. The target's
 * log-prob is `z[target] − logsumexp(z)` (`targetLogProbs`, whose gradient
 * `dy·(oneHot(target) − softmax(z))` needs no scatter kernel). When `R·V` exceeds
 * `decoder.logitsChunkElements` (default `LOGITS_CHUNK_ELEMENTS`, 2²³), the head, log-softmax and
 * their gradient run in row chunks (`chunkedTargetLogProbs`) so memory stays bounded at
 * V = 151 936; same values to float32 rounding. Differentiable w.r.t. the model's variables.
 */
export function scoreTokensWith<K extends string>(
  decoder: Decoder,
  request: ScoreRequest<K>,
): Readonly<Record<K, ScoredSpan>> {
  const cfg = decoder.config;
  const { sequences, spans } = request;
  const temperature = request.temperature ?? 1;
  if (!Array.isArray(sequences) || sequences.length === 0) {
    fail('sequences', 'must be a non-empty array of id arrays');
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    fail('temperature', `must be a finite number > 0, got ${String(temperature)}`);
  }
  checkIds('scoreTokens', 'sequences', sequences, cfg.vocabSize);
  const B = sequences.length;
  const lengths = sequences.map((s) => s.length);
  const L = Math.max(...lengths);
  lengths.forEach((n, b) => {
    if (n < 1) fail(`sequences[${b}]`, 'is empty');
    if (n > cfg.maxContext) {
      fail(`sequences[${b}]`, `has ${n} tokens, more than maxContext ${cfg.maxContext}`);
    }
  });
  const keys = Object.keys(spans) as K[];
  const idx: number[] = [];
  const maskValues: number[] = [];
  const widths: number[] = [];
  for (const key of keys) {
    const list = spans[key];
    if (!Array.isArray(list) || list.length !== B) {
      fail(`spans.${key}`, `must have one span per sequence (${B}), got ${String(list?.length)}`);
    }
    let width = 0;
    list.forEach((span, b) => {
      const { start, length } = span;
      const n = lengths[b] ?? 0;
      if (!Number.isInteger(start) || start < 1) {
        fail(
          `spans.${key}[${b}].start`,
          `must be an integer ≥ 1 (position 0 has no prefix), got ${start}`,
        );
      }
      if (!Number.isInteger(length) || length < 0 || start + length > n) {
        fail(
          `spans.${key}[${b}].length`,
          `must be an integer ≥ 0 with start + length ≤ sequence length ${n}, got start ${start}, length ${length}`,
        );
      }
      width = Math.max(width, length);
    });
    widths.push(width);
    list.forEach((span, b) => {
      for (let t = 0; t < width; t++) {
        const real = t < span.length;
        idx.push(real ? b * L + span.start + t - 1 : b * L);
        maskValues.push(real ? 1 : 0);
      }
    });
  }
  const M = idx.length;

  return tidyObject(() => {
    const result = {} as Record<K, ScoredSpan>;
    if (M === 0) {
      for (const key of keys) {
        result[key] = {
          logProbs: tf.zeros([B, 0]) as tf.Tensor2D,
          mask: tf.zeros([B, 0]) as tf.Tensor2D,
        };
      }
      return result;
    }
    const padded = new Int32Array(B * L);
    sequences.forEach((s, b) => padded.set(s, b * L));
    const ids = tf.tensor2d(padded, [B, L], 'int32');
    const { hidden } = decoder.forward({ ids });
    const N = B * L;
    // Rows whose next-token log-prob is needed (each position once, whatever the span kinds).
    const needed = new Uint8Array(N);
    idx.forEach((n, m) => {
      if (maskValues[m] === 1) needed[n] = 1;
    });
    const rowOf = new Int32Array(N).fill(-1);
    const rows: number[] = [];
    needed.forEach((f, n) => {
      if (f === 1) {
        rowOf[n] = rows.length;
        rows.push(n);
      }
    });
    const R = rows.length;
    const seqOf = (n: number): readonly number[] => sequences[Math.floor(n / L)] ?? [];
    const next = Int32Array.from(rows, (n) => seqOf(n)[(n % L) + 1] ?? 0);
    // The head and log-softmax run only on the R needed rows (all of them when R = B·L).
    const h = R === N ? hidden : injectiveGather(hidden, rows, N);
    let lp: tf.Tensor1D; // [R]
    if (R * cfg.vocabSize <= decoder.logitsChunkElements) {
      let z: tf.Tensor = decoder.logits(h, decoder.headWeight());
      if (temperature !== 1) z = tf.mul(z, 1 / temperature);
      lp = targetLogProbs(z, tf.tensor1d(next, 'int32'));
    } else {
      // Large vocabularies: row chunks, never the whole [R, V] logits (chunked-logits.ts). A
      // tied head is used as the [V, D] embedding when transpose flags are fast (no [D, V]
      // copy); a frozen head variable (LoRA) gets no gradient and no [D, V] accumulators.
      const param = decoder.headParameter();
      const useParam = param.transposed ? resolveMode(decoder.ops.mode) === 'flags' : true;
      const w = useParam ? param.weight : decoder.headWeight();
      const frozen = w instanceof tf.Variable && !w.trainable;
      lp = chunkedTargetLogProbs(h as tf.Tensor2D, w, next, {
        rows: Math.max(1, Math.floor(decoder.logitsChunkElements / cfg.vocabSize)),
        temperature,
        mode: decoder.ops.mode,
        headTransposed: useParam && param.transposed,
        headGradient: !frozen,
      });
    }
    // Per span kind: [B, T_k] by an injective gather from [lp ‖ 0]; padding reads the 0 slot.
    const lpPadded = tf.concat([lp, tf.zeros([1])]);
    let offset = 0;
    keys.forEach((key, i) => {
      const w = widths[i] ?? 0;
      const sel = Array.from({ length: B * w }, (_, j) =>
        maskValues[offset + j] === 1 ? (rowOf[idx[offset + j] ?? 0] ?? R) : R,
      );
      result[key] = {
        logProbs: tf.reshape(injectiveGather(lpPadded, sel, R + 1, R), [B, w]) as tf.Tensor2D,
        mask: tf.reshape(tf.tensor1d(maskValues.slice(offset, offset + B * w)), [
          B,
          w,
        ]) as tf.Tensor2D,
      };
      offset += B * w;
    });
    return result;
  });
}
