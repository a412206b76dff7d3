/**
 * Speed of `@covrl/models` on the current TF.js backend: one AdamW training step of the
 * reference model (GPT-2 family, d 128, 4 layers, 4 heads, context 128, vocab 64, batch 16) and
 * KV-cache sampling of 127 new tokens at batch 16 and 64. The backend is whatever the caller set
 * (`tf.setBackend('wasm')` for the default engine).
 *
 * FLOPs of a step: `6·P·tokens` (Kaplan et al. 2020, arXiv:2001.08361 §2.1, forward + backward,
 * P counting every parameter) plus attention scores and mixing, `12·nLayers·B·L²·D` (both
 * `L×L` products, forward 2× and backward 4×; the causal half is computed too). MFU is the
 * achieved FLOP/s over the machine's peak (`machinePeak()` in `peak.ts`: cores × 83 GFLOP/s),
 * and `mfuUsedCores` over the peak of the cores the run can use (one by default: wasm is
 * single-threaded; N when the BLAS engine runs N threads).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  clipByGlobalNorm,
  computeGradients,
  createAdamW,
  createCausalLM,
  defaultModelConfig,
} from '@covrl/models';
import type { MatMulGradientMode, ModelConfig } from '@covrl/models';
import { profileKernels } from '@covrl/tfjs-wasm-blas';
import { machinePeak } from './peak.js';

/** Timed sampling runs per batch size (after one warm-up run); the best is reported. */
export const SAMPLING_RUNS = 3;

export interface ModelBenchOptions {
  /** Timed training steps after one warm-up step (default 3). */
  readonly steps?: number;
  /** Rows per training batch (default 16). */
  readonly batch?: number;
  /** Sampling batch sizes (default [16, 64]). */
  readonly samplingBatches?: readonly number[];
  /** New tokens per sampled row (default 127). */
  readonly newTokens?: number;
  /** Overrides of the reference config. */
  readonly config?: Partial<ModelConfig>;
  /** Matmul gradient form (default `'auto'`; pass `'flags'` when a BLAS engine serves wasm). */
  readonly matMulGradient?: MatMulGradientMode;
  /** Peak FLOP/s of the machine for `mfu` (default `machinePeak().gflops · 1e9`). */
  readonly peakFlops?: number;
  /**
   * Peak FLOP/s of the cores the run uses, for `mfuUsedCores` (default one core,
   * `machinePeak().perCoreGflops · 1e9`).
   */
  readonly usedCoresPeakFlops?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface ModelBenchResult {
  readonly backend: string;
  readonly numParameters: number;
  readonly train: {
    readonly batch: number;
    readonly context: number;
    readonly secondsPerStep: number;
    readonly tokensPerSecond: number;
    readonly flopsPerStep: number;
    readonly gflopsPerSecond: number;
    /** Achieved FLOP/s over the machine's peak. */
    readonly mfu: number;
    /** Achieved FLOP/s over the peak of the cores used. */
    readonly mfuUsedCores: number;
  };
  readonly sampling: readonly {
    readonly batch: number;
    readonly newTokens: number;
    readonly seconds: number;
    readonly tokensPerSecond: number;
  }[];
}

/** The reference config of `design/compute.md`. */
export function referenceModelConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return defaultModelConfig('gpt2', {
    vocabSize: 64,
    dModel: 128,
    nLayers: 4,
    nHeads: 4,
    maxContext: 128,
    ...overrides,
  });
}

function randomSequences(seed: number, rows: number, length: number, vocab: number): number[][] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: rows }, () =>
    Array.from({ length }, () => Math.floor(next() * vocab)),
  );
}

/** Run the model benchmark on the current backend. */
export async function runModelBench(opts: ModelBenchOptions = {}): Promise<ModelBenchResult> {
  const steps = opts.steps ?? 3;
  const B = opts.batch ?? 16;
  const newTokens = opts.newTokens ?? 127;
  const log = opts.log ?? (() => undefined);
  const config = referenceModelConfig(opts.config);
  const L = config.maxContext;
  const model = createCausalLM(config, {
    seed: 0,
    ...(opts.matMulGradient === undefined ? {} : { matMulGradient: opts.matMulGradient }),
  });
  const optimizer = createAdamW({ lr: 1e-3, beta2: 0.95 });
  const sequences = randomSequences(1, B, L, config.vocabSize);
  const spans = { all: sequences.map(() => ({ start: 1, length: L - 1 })) };
  const step = (): number => {
    const { loss, grads } = computeGradients(model, () =>
      tf.tidy(() => {
        const { logProbs, mask } = model.scoreTokens({ sequences, spans }).all;
        return tf.div(tf.neg(tf.sum(logProbs)), tf.sum(mask)) as tf.Scalar;
      }),
    );
    const clipped = clipByGlobalNorm(grads, 1);
    optimizer.step(clipped.grads, model.variables());
    tf.dispose([...Object.values(grads), ...Object.values(clipped.grads)]);
    return loss;
  };
  // Two warm-up steps (the first compiles, the second lets V8 tier up the hot wasm and JS).
  step();
  step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const loss = step();
    log(`train step ${i + 1}/${steps}: loss ${loss.toFixed(4)}`);
  }
  const secondsPerStep = (performance.now() - t0) / 1000 / steps;
  const tokens = B * L;
  const flopsPerStep =
    6 * model.numParameters * tokens + 12 * config.nLayers * B * L * L * config.dModel;
  const peak = opts.peakFlops ?? machinePeak().gflops * 1e9;
  const usedPeak = opts.usedCoresPeakFlops ?? machinePeak().perCoreGflops * 1e9;
  const train = {
    batch: B,
    context: L,
    secondsPerStep,
    tokensPerSecond: tokens / secondsPerStep,
    flopsPerStep,
    gflopsPerSecond: flopsPerStep / secondsPerStep / 1e9,
    mfu: flopsPerStep / secondsPerStep / peak,
    mfuUsedCores: flopsPerStep / secondsPerStep / usedPeak,
  };
  log(`train: ${secondsPerStep.toFixed(3)} s/step, ${train.tokensPerSecond.toFixed(0)} tokens/s`);

  const sampling: ModelBenchResult['sampling'][number][] = [];
  for (const batch of opts.samplingBatches ?? [16, 64]) {
    const prompts = randomSequences(2, batch, 1, config.vocabSize);
    const request = { prompts, maxNewTokens: newTokens, seeds: prompts.map((_, i) => i) };
    // One full-length warm-up run (V8 optimises the JS and wasm of the decoding loop only after
    // it has run a while: the first run was measured 30 % slower), then the best of
    // SAMPLING_RUNS timed runs, as the PyTorch reference does: on a shared machine the best run
    // is the one least disturbed by other jobs (single runs varied by ±25 % there).
    await model.generate(request);
    let seconds = Number.POSITIVE_INFINITY;
    let generated = 0;
    for (let run = 0; run < SAMPLING_RUNS; run++) {
      const s0 = performance.now();
      const rows = await model.generate(request);
      seconds = Math.min(seconds, (performance.now() - s0) / 1000);
      generated = rows.reduce((a, r) => a + r.ids.length, 0);
    }
    sampling.push({ batch, newTokens, seconds, tokensPerSecond: generated / seconds });
    log(`sampling batch ${batch}: ${(generated / seconds).toFixed(0)} tokens/s`);
  }
  optimizer.dispose();
  model.dispose();
  return {
    backend: tf.getBackend(),
    numParameters: model.numParameters,
    train,
    sampling,
  };
}

/**
 * Kernel time of one training step of the reference model (16 × 128 tokens, one AdamW update),
 * the top 12 kernels, after one untimed step; `matMulGradient` as the engine in use prefers.
 */
export async function profileTrainingStep(matMulGradient: MatMulGradientMode): Promise<unknown> {
  const model = createCausalLM(referenceModelConfig(), { seed: 0, matMulGradient });
  const opt = createAdamW({ lr: 1e-4 });
  const ids = Array.from({ length: 16 }, (_, r) =>
    Array.from({ length: 128 }, (_, i) => (r * 7 + i * 13) % 64),
  );
  const step = (): void => {
    const { grads } = computeGradients(model, () => {
      const s = model.scoreTokens({
        sequences: ids,
        spans: { all: ids.map(() => ({ start: 1, length: 127 })) },
      }).all;
      return tf.neg(tf.mean(s.logProbs)) as tf.Scalar;
    });
    opt.step(grads, model.variables(), { lr: 1e-4 });
    tf.dispose(Object.values(grads));
  };
  step();
  const profile = await profileKernels({ fn: () => step(), top: 12 });
  opt.dispose();
  model.dispose();
  return profile;
}
