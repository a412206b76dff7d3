import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCausalLM } from './formats/export-pretrained.js';
import { modelConfigToHf } from './formats/hf-config.js';
import { tinyByteLevelBpeJson } from './formats/testing.js';
import { loadCausalLM } from './load-causal-lm.js';
import { createCausalLM } from './model.js';
import { tinyLlamaConfig } from './testing/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covrl-load-memory-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadCausalLM memory check and generation config', () => {
  it('refuses from config.json alone, before reading any weight, with the numbers', async () => {
    const dir = join(root, 'no-weights');
    await mkdir(dir, { recursive: true });
    // A 0.5B-shaped config and no weights file at all: the refusal must come first.
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify(
        modelConfigToHf(
          tinyLlamaConfig({
            vocabSize: 151936,
            dModel: 896,
            nLayers: 24,
            nHeads: 14,
            nKvHeads: 2,
            dFf: 4864,
            maxContext: 4096,
            tieEmbeddings: true,
            qkvBias: true,
          }),
        ),
      ),
    );
    await expect(
      loadCausalLM(dir, { memory: { mode: 'full', batch: 8, length: 256 } }),
    ).rejects.toThrow(
      /checkMemoryFits: .*no-weights .*needs about [\d.]+ GiB = weights 1\.84 GiB .*more than the 4\.00 GiB limit; train LoRA adapters instead/,
    );
    // Without the check the missing weights are what fails.
    await expect(loadCausalLM(dir)).rejects.toThrow(/has neither model\.safetensors/);
  });

  it('returns the estimate it checked and generation_config.json', async () => {
    const dir = join(root, 'tiny');
    const model = createCausalLM(tinyLlamaConfig({ vocabSize: 300 }), { seed: 1 });
    await exportCausalLM(model, dir);
    model.dispose();
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyByteLevelBpeJson()));
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [0, 5] }));
    const loaded = await loadCausalLM(dir, {
      memory: {
        mode: 'lora',
        batch: 2,
        length: 16,
        lora: { r: 2, loraAlpha: 4, targetModules: 'all-linear' },
      },
    });
    expect(loaded.memory?.trainableParameters).toBeGreaterThan(0);
    expect(loaded.memory?.totalBytes).toBeLessThan(4 * 1024 ** 3);
    expect(loaded.generationConfig?.eosTokenIds).toEqual([0, 5]);
    loaded.model.dispose();
  });
});
