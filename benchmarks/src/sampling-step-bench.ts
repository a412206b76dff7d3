/**
 * One sampling step of `generate` on random `[B, V]` logits, on the host (read the logits, float64
 * log-softmax and `sampleFromLogProbs` per row) and on the device (`sampleOnDevice`, reading back
 * `B` ids and log-probs), on the current backend. This is the measurement behind
 * `DEVICE_SAMPLING_MIN_VOCAB` in `@covrl/models`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, sampleRows } from '@covrl/models';
import type { SamplingSettings } from '@covrl/models';

/** The sampling settings compared (temperature 0.8 where not greedy, top-k 50, top-p 0.9). */
export const SAMPLING_STEP_MODES: Readonly<Record<string, SamplingSettings>> = Object.freeze({
  greedy: { temperature: 0, topK: 0, topP: 1 },
  temperature: { temperature: 0.8, topK: 0, topP: 1 },
  topK: { temperature: 0.8, topK: 50, topP: 1 },
  topP: { temperature: 0.8, topK: 0, topP: 0.9 },
  topKTopP: { temperature: 0.8, topK: 50, topP: 0.9 },
});

export interface SamplingStepBenchOptions {
  /** Vocabulary sizes (default 64, 512, 4096, 50257). */
  readonly vocabs?: readonly number[];
  /** Batch sizes (default 16, 64). */
  readonly batches?: readonly number[];
  /** Names of {@link SAMPLING_STEP_MODES} (default all). */
  readonly modes?: readonly string[];
  /** Timed repeats after two warm-up calls (default 20; a fifth of it, ≥ 2, from V = 10 000). */
  readonly repeats?: number;
}

export interface SamplingStepBenchRow {
  readonly vocab: number;
  readonly batch: number;
  readonly mode: string;
  /** Milliseconds per step, host path. */
  readonly hostMs: number;
  /** Milliseconds per step, device path. */
  readonly deviceMs: number;
}

/** Time both sampling paths per (vocab, batch, mode); leaks no tensor. */
export async function runSamplingStepBench(
  opts: SamplingStepBenchOptions = {},
): Promise<SamplingStepBenchRow[]> {
  const rows: SamplingStepBenchRow[] = [];
  const modes = opts.modes ?? Object.keys(SAMPLING_STEP_MODES);
  for (const V of opts.vocabs ?? [64, 512, 4096, 50257]) {
    for (const B of opts.batches ?? [16, 64]) {
      // Logits of a peaked distribution (std 3), as a trained model gives.
      const logits = tf.tidy(
        () => tf.mul(tf.randomNormal([B, V], 0, 1, 'float32', 1), 3) as tf.Tensor2D,
      );
      const repeats = opts.repeats ?? 20;
      const n = V >= 10_000 ? Math.max(2, Math.round(repeats / 5)) : repeats;
      for (const mode of modes) {
        const settings = SAMPLING_STEP_MODES[mode];
        if (settings === undefined) throw new Error(`runSamplingStepBench: unknown mode '${mode}'`);
        const time = async (onDevice: boolean): Promise<number> => {
          const rngs = Array.from({ length: B }, (_, i) => createRng(i));
          for (let w = 0; w < 2; w++) await sampleRows(logits, settings, rngs, onDevice);
          const t0 = performance.now();
          for (let i = 0; i < n; i++) await sampleRows(logits, settings, rngs, onDevice);
          return (performance.now() - t0) / n;
        };
        rows.push({
          vocab: V,
          batch: B,
          mode,
          hostMs: await time(false),
          deviceMs: await time(true),
        });
      }
      logits.dispose();
    }
  }
  return rows;
}
