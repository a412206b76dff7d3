import { describe, expect, it } from 'vitest';
import { defaultModelConfig } from './config.js';
import { checkMemoryFits, estimateMemory, WASM_HEAP_LIMIT_BYTES } from './memory.js';

// SmolLM2-135M's and Qwen2.5-0.5B's published shapes.
const smol = defaultModelConfig('llama', {
  vocabSize: 49152,
  dModel: 576,
  nLayers: 30,
  nHeads: 9,
  nKvHeads: 3,
  dFf: 1536,
  maxContext: 8192,
  tieEmbeddings: true,
});
const qwen = defaultModelConfig('llama', {
  vocabSize: 151936,
  dModel: 896,
  nLayers: 24,
  nHeads: 14,
  nKvHeads: 2,
  dFf: 4864,
  maxContext: 32768,
  tieEmbeddings: true,
  qkvBias: true,
});
const lora = { r: 16, loraAlpha: 32, targetModules: 'all-linear' };

/**
 * Peak `tf.profile` bytes (MB) of two AdamW steps measured on wasm (tfjs 4.22, this repository at
 * the commit adding memory.ts) for llama configs `V, D, layers, H, KV, F, B, T`, tied, one-hot
 * embedding gradient (stock wasm): the data the coefficients were fitted on.
 */
const MEASURED: [number[], 'full' | 'lora', boolean, number][] = [
  [[4096, 256, 4, 4, 2, 688, 4, 128], 'full', false, 475.7],
  [[4096, 256, 4, 4, 2, 688, 2, 128], 'full', false, 289.4],
  [[4096, 256, 2, 4, 2, 688, 4, 128], 'full', false, 292.0],
  [[4096, 256, 4, 4, 2, 688, 4, 64], 'full', false, 283.0],
  [[16384, 256, 4, 4, 2, 688, 4, 128], 'full', false, 776.7],
  [[4096, 256, 4, 4, 2, 1376, 4, 128], 'full', false, 599.7],
  [[4096, 512, 4, 8, 4, 688, 4, 128], 'full', false, 846.8],
  [[4096, 256, 4, 4, 2, 688, 4, 128], 'lora', false, 584.9],
  [[4096, 256, 4, 4, 2, 688, 4, 128], 'full', true, 215.1],
  [[4096, 256, 4, 4, 2, 688, 2, 128], 'full', true, 148.8],
  [[4096, 256, 2, 4, 2, 688, 4, 128], 'full', true, 188.2],
];

describe('estimateMemory', () => {
  it.each(MEASURED)(
    '%j %s recompute=%s: within 15 % of the measured peak (%d MB)',
    (s, mode, recompute, mb) => {
      const [V, D, nLayers, H, KV, F, B, T] = s as [
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const config = defaultModelConfig('llama', {
        vocabSize: V,
        dModel: D,
        nLayers,
        nHeads: H,
        nKvHeads: KV,
        dFf: F,
        maxContext: T,
        tieEmbeddings: true,
      });
      const e = estimateMemory(config, {
        mode,
        batch: B,
        length: T,
        recompute,
        lora,
        scatterEmbeddingGradient: false,
      });
      expect(e.totalBytes / 1e6 / mb).toBeGreaterThan(0.85);
      expect(e.totalBytes / 1e6 / mb).toBeLessThan(1.15);
    },
  );

  it('orders the modes: LoRA and recomputation need less, larger batches more', () => {
    const at = (mode: 'full' | 'lora', batch: number, recompute: boolean): number =>
      estimateMemory(smol, { mode, batch, length: 256, recompute, lora }).totalBytes;
    expect(at('lora', 8, false)).toBeLessThan(at('full', 8, false) * 1.5);
    expect(at('full', 8, true)).toBeLessThan(at('full', 8, false));
    expect(at('lora', 8, true)).toBeLessThan(at('full', 8, true));
    expect(at('full', 4, true)).toBeLessThan(at('full', 8, true));
    const e = estimateMemory(smol, { mode: 'full', batch: 8, length: 256, recompute: true });
    expect(e.weightBytes).toBe(4 * e.parameters);
    expect(e.optimizerBytes).toBe(8 * e.parameters);
    const l = estimateMemory(qwen, { mode: 'lora', batch: 1, length: 128, recompute: true, lora });
    expect(l.trainableParameters).toBeLessThan(l.parameters / 50);
  });

  it('checkMemoryFits refuses with the numbers and what to do, before anything is allocated', () => {
    expect(() =>
      checkMemoryFits(qwen, { mode: 'full', batch: 8, length: 256 }, { what: 'Qwen2.5-0.5B' }),
    ).toThrow(
      /Qwen2\.5-0\.5B .* needs about [\d.]+ GiB = weights 1\.84 GiB .* more than the 4\.00 GiB limit; train LoRA adapters instead .*activation recomputation/,
    );
    const ok = checkMemoryFits(smol, {
      mode: 'lora',
      batch: 1,
      length: 128,
      recompute: true,
      lora,
    });
    expect(ok.totalBytes).toBeLessThan(WASM_HEAP_LIMIT_BYTES);
    expect(() => estimateMemory(smol, { mode: 'lora', batch: 1, length: 8 })).toThrow(
      /request\.lora is required/,
    );
    expect(() => estimateMemory(smol, { mode: 'full', batch: 0, length: 8 })).toThrow(
      /request\.batch must be a positive integer/,
    );
  });
});
