/**
 * The embedding gradient at a large vocabulary (issue 13, "Large vocabularies"): the reference
 * model's shape (d 128, 4 layers, 4 heads, GPT-2 family, tied head) with V = 151 936 (Qwen's
 * vocabulary), `batch × context` tokens. Measured on the current backend (wasm for the engine):
 *
 * - `scatterMs`: the gather gradient as `tf.unsortedSegmentSum(dy [T, D], ids, V)` (the
 *   `UnsortedSegmentSum` kernel of `@covrl/tfjs-wasm-blas`), what `@covrl/models` runs when the
 *   backend has the kernel: O(T·D) adds plus one O(V·D) zero fill;
 * - `oneHotMs`: the same gradient as the one-hot product `oneHot(ids, V)ᵀ·dy`, O(T·V·D), what the
 *   models ran before on wasm (memory T·V floats);
 * - `forwardMs`, `backwardMs`: one forward pass of the loss, and forward+backward minus it; the
 *   "rest of the backward" is `backwardMs − scatterMs`, and `ratioToRestOfBackward` is
 *   `scatterMs / (backwardMs − scatterMs)` (issue 13's target: at most 2).
 *
 * Every time is the best of `repeats` runs after a warm-up (shared machines drift).
 */
import * as tf from '@tensorflow/tfjs-core';
import { computeGradients, createCausalLM } from '@covrl/models';
import type { MatMulGradientMode } from '@covrl/models';
import { referenceModelConfig } from './model-bench.js';

export interface EmbeddingGradBenchResult {
  readonly vocab: number;
  readonly tokens: number;
  readonly dModel: number;
  readonly scatterMs: number;
  readonly oneHotMs: number;
  readonly forwardMs: number;
  readonly backwardMs: number;
  /** `scatterMs / (backwardMs − scatterMs)`; null when the difference is not positive. */
  readonly ratioToRestOfBackward: number | null;
  readonly scatterMsPerToken: number;
  readonly restOfBackwardMsPerToken: number;
}

/**
 * Waits for `t` by reading one value through a gather (a full `dataSync` of a [V, D] gradient,
 * and the wasm `Slice` kernel, which reads its whole input into JS, took about 0.6 s for 78 MB,
 * a hundred times the kernel).
 */
function touch(t: tf.Tensor): void {
  tf.tidy(() => tf.gather(tf.reshape(t, [-1]), tf.tensor1d([0], 'int32')).dataSync());
}

function bestMs(repeats: number, fn: () => void): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** See the module comment. Disposes everything it creates. */
export async function runEmbeddingGradBench({
  vocab = 151_936,
  batch = 2,
  context = 128,
  repeats = 3,
  matMulGradient = 'auto',
}: {
  readonly vocab?: number;
  readonly batch?: number;
  readonly context?: number;
  readonly repeats?: number;
  readonly matMulGradient?: MatMulGradientMode;
} = {}): Promise<EmbeddingGradBenchResult> {
  await tf.ready();
  const config = referenceModelConfig({ vocabSize: vocab, maxContext: context });
  const model = createCausalLM(config, { seed: 0, matMulGradient });
  const tokens = batch * context;
  let s = 12345;
  const ids = Array.from({ length: batch }, () =>
    Array.from({ length: context }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % vocab;
    }),
  );
  const loss = (): tf.Scalar => {
    const scored = model.scoreTokens({
      sequences: ids,
      spans: { all: ids.map(() => ({ start: 1, length: context - 1 })) },
    }).all;
    return tf.neg(tf.mean(scored.logProbs)) as tf.Scalar;
  };
  const idx = tf.tensor1d(ids.flat(), 'int32');
  const dy = tf.randomNormal([tokens, config.dModel]);
  try {
    const scatterMs = bestMs(repeats, () =>
      tf.tidy(() => touch(tf.unsortedSegmentSum(dy, idx, vocab))),
    );
    const oneHotMs = bestMs(repeats, () =>
      tf.tidy(() => touch(tf.matMul(tf.oneHot(idx, vocab), dy, true, false))),
    );
    const forwardMs = bestMs(repeats, () => tf.tidy(() => touch(loss())));
    const fullMs = bestMs(repeats, () => {
      const { grads } = computeGradients(model, loss);
      const values = Object.values(grads);
      values.forEach(touch);
      tf.dispose(values);
    });
    const backwardMs = fullMs - forwardMs;
    const rest = backwardMs - scatterMs;
    return {
      vocab,
      tokens,
      dModel: config.dModel,
      scatterMs,
      oneHotMs,
      forwardMs,
      backwardMs,
      ratioToRestOfBackward: rest > 0 ? scatterMs / rest : null,
      scatterMsPerToken: scatterMs / tokens,
      restOfBackwardMsPerToken: rest / tokens,
    };
  } finally {
    tf.dispose([idx, dy]);
    model.dispose();
  }
}
