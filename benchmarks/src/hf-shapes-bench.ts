/**
 * Real Hugging Face shapes on the wasm backend: a SmolLM2-135M-shaped and a Qwen2.5-0.5B-shaped
 * model (random weights, the published shapes), written once as a BF16 safetensors directory,
 * then: loading time (`loadCausalLM`), AdamW training steps (full or LoRA, with or without
 * activation recomputation: seconds per step, peak `tf.memory()` bytes from `tf.profile`, wasm
 * heap size) and KV-cache sampling (batch 8, 16-token prompts, 32 new tokens: tokens per second),
 * beside `estimateMemory`'s prediction. No PyTorch run: this script measures the limits of the
 * wasm heap, which PyTorch does not have.
 *
 * ```sh
 * node benchmarks/dist/hf-shapes-bench.js --shape smol --mode full --batch 8 --length 256 --recompute
 * node benchmarks/dist/hf-shapes-bench.js --shape qwen --mode lora --batch 2 --length 256 --recompute
 * ```
 *
 * Flags: `--shape smol|qwen`, `--mode full|lora|inference`, `--batch B`, `--length T`,
 * `--steps N` (default 2), `--recompute`, `--dir DIR` (default `$TMPDIR/covrl-hf-shapes`),
 * `--threads N` (OpenBLAS threads, default 1). One JSON line per measurement on stdout.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalToHf,
  computeGradients,
  createAdamW,
  defaultModelConfig,
  estimateMemory,
  formatMemoryEstimate,
  modelConfigToHf,
  parameterShapes,
  serializeSafetensorsBf16,
} from '@covrl/models';
import type { FloatTensorEntry, ModelConfig } from '@covrl/models';
import { loadCausalLM } from '@covrl/models/node';
import { enableWasmBlas, enableWasmFusedKernels } from '@covrl/tfjs-wasm-blas';

/** The published shapes (config.json of HuggingFaceTB/SmolLM2-135M and Qwen/Qwen2.5-0.5B). */
export const HF_SHAPES: Readonly<Record<'smol' | 'qwen', ModelConfig>> = {
  smol: defaultModelConfig('llama', {
    vocabSize: 49152,
    dModel: 576,
    nLayers: 30,
    nHeads: 9,
    nKvHeads: 3,
    dFf: 1536,
    maxContext: 8192,
    tieEmbeddings: true,
    ropeTheta: 100000,
    normEps: 1e-5,
  }),
  qwen: defaultModelConfig('llama', {
    vocabSize: 151936,
    dModel: 896,
    nLayers: 24,
    nHeads: 14,
    nKvHeads: 2,
    dFf: 4864,
    maxContext: 32768,
    tieEmbeddings: true,
    ropeTheta: 1e6,
    qkvBias: true,
  }),
};

const LORA = { r: 16, loraAlpha: 32, targetModules: 'all-linear' } as const;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Write `config` as a BF16 HF directory of uniform random weights (norms 1) unless present. */
async function ensureDir(dir: string, config: ModelConfig): Promise<void> {
  try {
    await stat(join(dir, 'model.safetensors'));
    return;
  } catch (_error) {
    // not written yet
  }
  await mkdir(dir, { recursive: true });
  let s = 12345;
  const canonical: Record<string, FloatTensorEntry> = {};
  for (const [name, shape] of Object.entries(parameterShapes(config))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.includes('norm')) data.fill(1);
    else {
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        data[i] = (s / 4294967296 - 0.5) * 0.04;
      }
    }
    canonical[name] = { shape, data };
  }
  await writeFile(
    join(dir, 'model.safetensors'),
    serializeSafetensorsBf16(canonicalToHf(canonical, config)),
  );
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ ...modelConfigToHf(config), torch_dtype: 'bfloat16' }, null, 2),
  );
  await writeFile(
    join(dir, 'covrl-char-tokenizer.json'),
    JSON.stringify({
      type: 'covrl-char-tokenizer',
      version: 1,
      vocab: ['<pad>', '<eos>', 'a', 'b'],
      padToken: '<pad>',
      eosToken: '<eos>',
      unkToken: null,
      atomicTokens: ['<pad>', '<eos>'],
    }),
  );
}

const heapGiB = (): number =>
  (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength /
  2 ** 30;
const emit = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

async function main(): Promise<void> {
  const shape = flag('shape', 'smol') as 'smol' | 'qwen';
  const config = HF_SHAPES[shape];
  if (config === undefined) throw new Error(`hf-shapes-bench: --shape must be smol or qwen`);
  const mode = flag('mode', 'full') as 'full' | 'lora' | 'inference';
  const batch = Number(flag('batch', '1'));
  const length = Number(flag('length', '128'));
  const steps = Number(flag('steps', '2'));
  const recompute = process.argv.includes('--recompute');
  const dir = join(flag('dir', join(tmpdir(), 'covrl-hf-shapes')), shape);
  await tf.setBackend('wasm');
  await tf.ready();
  const blas = enableWasmBlas({ threads: Number(flag('threads', '1')) });
  const fused = enableWasmFusedKernels();
  const estimate = estimateMemory(config, { mode, batch, length, recompute, lora: LORA });
  emit({
    shape,
    mode,
    batch,
    length,
    recompute,
    blas: blas.active,
    fused: fused.active,
    estimate: formatMemoryEstimate(estimate),
    estimateGiB: estimate.totalBytes / 2 ** 30,
  });
  await ensureDir(dir, config);
  const t0 = performance.now();
  const { model } = await loadCausalLM(dir, {
    matMulGradient: blas.active ? 'flags' : 'auto',
    activationRecomputation: recompute,
    memory: { mode, batch, length, recompute, lora: LORA },
  });
  emit({ shape, loadSeconds: (performance.now() - t0) / 1000, heapGiB: heapGiB() });
  if (mode === 'lora') model.addLora(LORA, { seed: 0 });
  if (mode !== 'inference') {
    const V = config.vocabSize;
    const sequences = Array.from({ length: batch }, (_, b) =>
      Array.from({ length }, (_, t) => (b * 7919 + t * 104729) % V),
    );
    const spans = { answer: sequences.map(() => ({ start: 1, length: length - 1 })) };
    const optimizer = createAdamW({ lr: 1e-5 });
    for (let s = 0; s < steps; s++) {
      const a = performance.now();
      const info = await tf.profile(() => {
        const { grads } = computeGradients(model, () =>
          tf.tidy(
            () =>
              tf.neg(tf.mean(model.scoreTokens({ sequences, spans }).answer.logProbs)) as tf.Scalar,
          ),
        );
        optimizer.step(grads, model.trainableVariables());
        tf.dispose(Object.values(grads));
      });
      emit({
        shape,
        mode,
        step: s,
        stepSeconds: (performance.now() - a) / 1000,
        peakGiB: info.peakBytes / 2 ** 30,
        heapGiB: heapGiB(),
      });
    }
    optimizer.dispose();
  }
  const prompts = Array.from({ length: 8 }, (_, b) =>
    Array.from({ length: 16 }, (_, t) => (b * 31 + t * 17) % config.vocabSize),
  );
  const a = performance.now();
  const rows = await model.generate({
    prompts,
    maxNewTokens: 32,
    temperature: 1,
    topK: 50,
    seeds: prompts.map((_, i) => i),
  });
  const seconds = (performance.now() - a) / 1000;
  emit({
    shape,
    sampleTokensPerSecond: rows.reduce((n, r) => n + r.ids.length, 0) / seconds,
    heapGiB: heapGiB(),
  });
  model.dispose();
}

await main();
