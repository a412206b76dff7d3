import * as tf from '@tensorflow/tfjs-core';
import { disableWasmFusedKernels, enableWasmFusedKernels } from '@covrl/tfjs-wasm-blas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { generateWith } from './generate.js';
import { Decoder } from './gpt.js';
import { canWriteInPlace } from './kv-cache.js';
import { createOps } from './layers.js';
import { createCausalLM } from './model.js';
import type { CausalLM } from './model.js';
import { tinyGpt2Config, tinyLlamaConfig } from './testing/index.js';

// The contract: KV-cache generation equals full recomputation, logits within 1e-4. These
// tests read the raw logits of every decoding step from the generation loop itself (prefill, then
// one decode step per generated token, with left padding and rows leaving the batch on eos) and
// compare them with `model.logits` over the whole sequence so far.

const configs: [string, ModelConfig, number][] = [
  ['gpt2', tinyGpt2Config({ initStd: 0.3 }), 5],
  ['llama GQA untied qkvBias', tinyLlamaConfig({ initStd: 0.3, qkvBias: true }), 3],
  ['llama MHA tied', tinyLlamaConfig({ initStd: 0.3, nKvHeads: 4, tieEmbeddings: true }), 9],
  ['qwen3 q/k norms, head_dim 6', tinyLlamaConfig({ initStd: 0.3, headDim: 6, qkNorm: true }), 7],
];

const prompts = [[1, 7, 3, 3, 12], [4], [2, 9, 14, 0, 6, 6, 1, 8, 11], [15, 15]];

/** The decoder of `model` (same variables), for calling `generateWith` with its options. */
function decoderOf(model: CausalLM): Decoder {
  const vars = model.variables();
  return new Decoder(
    model.config,
    (name) => {
      const v = vars.get(name);
      if (v === undefined) throw new Error(`no parameter ${name}`);
      return v;
    },
    createOps('auto'),
  );
}

async function worstDecodeError(config: ModelConfig, eosId: number): Promise<number> {
  const model = createCausalLM(config, { seed: 1 });
  const steps: { step: number; rows: number[]; logits: number[][] }[] = [];
  const before = tf.memory().numTensors;
  const generated = await generateWith(
    decoderOf(model),
    { prompts, maxNewTokens: 8, temperature: 1.3, seeds: [1, 2, 3, 4], eosId },
    {
      onLogits: (step, rows, logits) =>
        steps.push({ step, rows: [...rows], logits: logits.arraySync() }),
    },
  );
  expect(tf.memory().numTensors).toBe(before);
  // A row that ended on eos left the batch (and the cache) while others went on.
  expect(generated.some((r) => r.finishReason === 'eos')).toBe(true);
  expect(generated.some((r) => r.finishReason === 'length')).toBe(true);
  // One logits row per generated token.
  const total = generated.reduce((n, r) => n + r.ids.length, 0);
  expect(steps.reduce((n, s) => n + s.rows.length, 0)).toBe(total);
  let worst = 0;
  for (const { step, rows, logits } of steps) {
    rows.forEach((b, i) => {
      const seq = [...prompts[b]!, ...generated[b]!.ids.slice(0, step)];
      const full = model.logits({ ids: [seq] });
      const want = (full.arraySync() as number[][][])[0]![seq.length - 1]!;
      full.dispose();
      logits[i]!.forEach((z, v) => (worst = Math.max(worst, Math.abs(z - want[v]!))));
    });
  }
  model.dispose();
  return worst;
}

describe.each([
  ['cpu', false],
  ['wasm with fused kernels (in-place fixed-capacity KV cache)', true],
] as const)('KV-cache decode-step logits on %s', (_name, fused) => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend(fused ? 'wasm' : 'cpu');
    if (fused) expect(enableWasmFusedKernels().active).toBe(true);
  });
  afterAll(async () => {
    if (fused) disableWasmFusedKernels();
    await tf.setBackend(previous);
  });

  it.each(configs)(
    '%s: equal a full recomputation within 1e-4 after every generated token',
    async (_n, config, eosId) => {
      // The path under test: in place (withCapacity / writePosition) on wasm with the fused
      // kernels, concat on cpu.
      expect(canWriteInPlace()).toBe(fused);
      expect(await worstDecodeError(config, eosId)).toBeLessThan(1e-4);
    },
  );
});
