import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { parseSafetensors } from './formats/safetensors.js';
import {
  loraConfigFromPeft,
  loraModules,
  loraScale,
  PEFT_PREFIX,
  selectLoraModules,
} from './lora.js';
import type { LoraConfig } from './lora.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  loadLoraAdapter,
  saveLoraAdapter,
} from './lora-io.js';
import { createCausalLM } from './model.js';
import type { CausalLM } from './model.js';
import { createAdamW } from './optim/adamw.js';
import { computeGradients } from './optim/gradients.js';
import { tinyGpt2Config, tinyLlamaConfig, withWasmCustomGradSaves } from './testing/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'covrl-lora-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const ids = [
  [1, 5, 3, 7, 2, 9],
  [4, 4, 8, 0, 11, 6],
];
const sequences = ids;
const spans = {
  answer: [
    { start: 1, length: 5 },
    { start: 2, length: 4 },
  ],
};

const configs: [string, ModelConfig, LoraConfig][] = [
  [
    'llama (GQA, untied), all-linear',
    tinyLlamaConfig({ initStd: 0.2 }),
    { r: 4, loraAlpha: 8, targetModules: 'all-linear' },
  ],
  [
    'qwen3 (q/k norms, head_dim 6), attention only',
    tinyLlamaConfig({ initStd: 0.2, headDim: 6, qkNorm: true, tieEmbeddings: true }),
    { r: 2, loraAlpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
  ],
  [
    'gpt2 (fused c_attn), regex',
    tinyGpt2Config({ initStd: 0.2 }),
    { r: 3, loraAlpha: 3, targetModules: String.raw`.*\.(c_attn|c_fc)`, useRslora: true },
  ],
];

async function logitsOf(model: CausalLM): Promise<Float32Array> {
  const t = model.logits({ ids });
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

/** One AdamW step on the mean answer NLL; returns the loss. */
function trainStep(model: CausalLM, lr = 0.05): { loss: number; names: string[] } {
  const optimizer = createAdamW({ lr });
  const { loss, grads } = computeGradients(model, () =>
    tf.tidy(() => {
      const { logProbs, mask } = model.scoreTokens({ sequences, spans }).answer;
      return tf.div(tf.neg(tf.sum(logProbs)), tf.sum(mask)) as tf.Scalar;
    }),
  );
  optimizer.step(grads, model.trainableVariables());
  const names = Object.keys(grads);
  tf.dispose(Object.values(grads));
  optimizer.dispose();
  return { loss, names };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

describe('LoRA adapters', () => {
  it.each(configs)(
    '%s: fresh adapters keep the logits, only adapters train, adapters-off is the base, PEFT round trip, merge',
    async (name, config, lora) =>
      withWasmCustomGradSaves(async () => {
        const model = createCausalLM(config, { seed: 3 });
        const base = await logitsOf(model);
        const baseWeights = model.getWeights();
        const adapters = model.addLora(lora, { seed: 7 });
        // B = 0: exactly the same logits.
        expect(maxAbsDiff(await logitsOf(model), base)).toBe(0);
        const modules = selectLoraModules(config, lora.targetModules);
        expect([...model.trainableVariables().keys()]).toHaveLength(
          modules.length + modules.reduce((s, m) => s + m.outputs.length, 0),
        );
        for (const v of model.variables().values()) expect(v.trainable).toBe(false);
        // A ~ U(±1/√in) as PEFT's kaiming_uniform_(a=√5); B = 0.
        const first = modules[0];
        const a = model.trainableVariables().get(`lora:${first?.module}.A`);
        const aValues = (await a?.data()) as Float32Array;
        const bound = 1 / Math.sqrt(first?.inDim ?? 1);
        expect(Math.max(...aValues.map(Math.abs))).toBeLessThanOrEqual(bound);
        expect(Math.max(...aValues.map(Math.abs))).toBeGreaterThan(bound / 2);

        // Training updates only the adapters.
        const { loss: loss0, names } = trainStep(model);
        expect(names.every((n) => n.startsWith('lora:'))).toBe(true);
        expect(names.length).toBe(model.trainableVariables().size);
        for (let k = 0; k < 3; k++) trainStep(model);
        const { loss: loss1 } = trainStep(model, 0);
        expect(loss1).toBeLessThan(loss0);
        const after = model.getWeights();
        for (const [n, w] of Object.entries(after)) {
          expect(await w.data(), n).toEqual(await (baseWeights[n] as tf.Tensor).data());
        }
        tf.dispose(Object.values(after));
        const tuned = await logitsOf(model);
        expect(maxAbsDiff(tuned, base)).toBeGreaterThan(1e-3);

        // Adapters off: the base model, bit for bit (GRPO's KL reference without a copy).
        const off = model.withAdaptersDisabled(() => model.logits({ ids }));
        expect(maxAbsDiff((await off.data()) as Float32Array, base)).toBe(0);
        off.dispose();
        expect(model.adaptersEnabled).toBe(true);

        // PEFT layout: names and shapes, save → load into a fresh base → same logits.
        const peft = adapters.toPeftTensors();
        for (const m of modules) {
          const width = m.outputs.reduce((s, o) => s + o.width, 0);
          expect(peft[`${PEFT_PREFIX}${m.module}.lora_A.weight`]?.shape).toEqual([lora.r, m.inDim]);
          expect(peft[`${PEFT_PREFIX}${m.module}.lora_B.weight`]?.shape).toEqual([width, lora.r]);
        }
        const dir = join(root, name.split(' ')[0] ?? 'x');
        await saveLoraAdapter(dir, model, { baseModelNameOrPath: 'tiny' });
        const json = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as Record<
          string,
          unknown
        >;
        expect(json).toMatchObject({
          peft_type: 'LORA',
          r: lora.r,
          lora_alpha: lora.loraAlpha,
          bias: 'none',
        });
        const file = parseSafetensors(await readFile(join(dir, ADAPTER_WEIGHTS_FILE)));
        expect(Object.keys(file.tensors).sort()).toEqual(Object.keys(peft).sort());
        const reloaded = createCausalLM(config, { seed: 3 });
        await loadLoraAdapter(dir, reloaded);
        expect(maxAbsDiff(await logitsOf(reloaded), tuned)).toBe(0);
        reloaded.dispose();

        // Merge: a plain model with W + s·A·B gives the adapter logits to float32 rounding.
        const merged = model.mergedWeights();
        // PEFT orientation, on the host in float64: merged W[in, out] = W + s·(B_peft·A_peft)ᵀ.
        const m0 = modules[0];
        const o0 = m0?.outputs[0];
        if (m0 !== undefined && o0 !== undefined) {
          const A = peft[`${PEFT_PREFIX}${m0.module}.lora_A.weight`]?.data as Float32Array;
          const B = peft[`${PEFT_PREFIX}${m0.module}.lora_B.weight`]?.data as Float32Array;
          const W = (await (baseWeights[o0.weight] as tf.Tensor).data()) as Float32Array;
          const got = (await (merged[o0.weight] as tf.Tensor).data()) as Float32Array;
          const s = loraScale(lora);
          let worst = 0;
          for (let i = 0; i < m0.inDim; i++) {
            for (let j = 0; j < o0.width; j++) {
              let d = 0;
              for (let k = 0; k < lora.r; k++) {
                d += (B[j * lora.r + k] as number) * (A[k * m0.inDim + i] as number);
              }
              const want = (W[i * o0.width + j] as number) + s * d;
              worst = Math.max(worst, Math.abs((got[i * o0.width + j] as number) - want));
            }
          }
          expect(worst).toBeLessThan(1e-6);
        }
        const plain = createCausalLM(config, { seed: 0, weights: merged });
        tf.dispose(Object.values(merged));
        const mergedLogits = await logitsOf(plain);
        const scale = Math.max(...tuned.map(Math.abs));
        expect(maxAbsDiff(mergedLogits, tuned)).toBeLessThan(2e-6 * Math.max(1, scale) * 8);
        plain.dispose();

        tf.dispose(Object.values(baseWeights));
        model.dispose();
      }),
  );

  it.each(configs)(
    '%s: KV-cache generation with adapters equals the merged model (greedy ids, log-probs)',
    async (_name, config, lora) => {
      const model = createCausalLM(config, { seed: 3 });
      const adapters = model.addLora(lora, { seed: 7 });
      for (const [n, v] of adapters.variables()) {
        if (n.includes('.B')) {
          tf.tidy(() => v.assign(tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 9), 0.2)));
        }
      }
      const merged = model.mergedWeights();
      const plain = createCausalLM(config, { seed: 0, weights: merged });
      tf.dispose(Object.values(merged));
      const request = {
        prompts: [[1, 2, 3], [4]],
        maxNewTokens: 6,
        temperature: 0,
        seeds: [0, 1],
        returnLogProbs: true,
      };
      const a = await model.generate(request);
      const b = await plain.generate(request);
      expect(a.map((r) => r.ids)).toEqual(b.map((r) => r.ids));
      a.forEach((row, i) =>
        (row.logProbs ?? []).forEach((v, t) =>
          expect(Math.abs(v - (b[i]?.logProbs?.[t] ?? NaN))).toBeLessThan(1e-4),
        ),
      );
      // Adapters off: the base model's generation.
      const base = createCausalLM(config, { seed: 3 });
      model.setAdaptersEnabled(false);
      expect((await model.generate(request)).map((r) => r.ids)).toEqual(
        (await base.generate(request)).map((r) => r.ids),
      );
      base.dispose();
      plain.dispose();
      model.dispose();
    },
  );

  it('scale is alpha / r, or alpha / √r with use_rslora', () => {
    expect(loraScale({ r: 8, loraAlpha: 16, targetModules: 'all-linear' })).toBe(2);
    expect(loraScale({ r: 16, loraAlpha: 16, targetModules: 'all-linear', useRslora: true })).toBe(
      4,
    );
  });

  it('dropout is off by default and deterministic per seed when on', async () =>
    withWasmCustomGradSaves(() => {
      const model = createCausalLM(tinyLlamaConfig({ initStd: 0.2 }), { seed: 1 });
      model.addLora(
        { r: 4, loraAlpha: 8, loraDropout: 0.5, targetModules: 'all-linear' },
        { seed: 2 },
      );
      trainStep(model); // B ≠ 0 so that dropout matters
      const lossWith = (seed: number | undefined): number => {
        model.lora?.setDropout(seed);
        const v = tf.tidy(() => {
          const { logProbs } = model.scoreTokens({ sequences, spans }).answer;
          return tf.sum(logProbs).dataSync()[0] ?? NaN;
        });
        model.lora?.setDropout(undefined);
        return v;
      };
      const off = lossWith(undefined);
      expect(lossWith(undefined)).toBe(off);
      expect(lossWith(5)).toBe(lossWith(5));
      expect(lossWith(5)).not.toBe(lossWith(6));
      expect(lossWith(5)).not.toBe(off);
      model.dispose();
    }));

  it('selects modules with PEFT matching rules and refuses unknown targets by name', () => {
    const llama = tinyLlamaConfig();
    expect(selectLoraModules(llama, ['q_proj', 'v_proj']).map((m) => m.module)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(selectLoraModules(llama, String.raw`model\.layers\.1\..*_proj`)).toHaveLength(7);
    expect(selectLoraModules(llama, 'all-linear')).toHaveLength(loraModules(llama).length);
    expect(() => selectLoraModules(llama, ['lm_head'])).toThrow(
      /'lm_head' matches no adaptable llama module/,
    );
    expect(() => selectLoraModules(llama, ['c_attn'])).toThrow(/'c_attn'/);
    expect(selectLoraModules(tinyGpt2Config(), ['c_proj']).map((m) => m.module)).toEqual([
      'transformer.h.0.attn.c_proj',
      'transformer.h.0.mlp.c_proj',
      'transformer.h.1.attn.c_proj',
      'transformer.h.1.mlp.c_proj',
    ]);
  });

  it('reads PEFT adapter_config.json and refuses fields it does not implement by name', () => {
    const peft = {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 8,
      lora_alpha: 32,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'v_proj'],
      bias: 'none',
      use_rslora: false,
      use_dora: false,
      fan_in_fan_out: false,
      init_lora_weights: true,
      modules_to_save: null,
      layers_to_transform: null,
      rank_pattern: {},
      alpha_pattern: {},
    };
    expect(loraConfigFromPeft(peft)).toEqual({
      r: 8,
      loraAlpha: 32,
      loraDropout: 0.05,
      targetModules: ['q_proj', 'v_proj'],
      useRslora: false,
    });
    expect(() => loraConfigFromPeft({ ...peft, bias: 'all' })).toThrow(/field 'bias'/);
    expect(() => loraConfigFromPeft({ ...peft, use_dora: true })).toThrow(/field 'use_dora'/);
    expect(() => loraConfigFromPeft({ ...peft, rank_pattern: { q_proj: 4 } })).toThrow(
      /field 'rank_pattern'/,
    );
    expect(() => loraConfigFromPeft({ ...peft, modules_to_save: ['lm_head'] })).toThrow(
      /field 'modules_to_save'/,
    );
    expect(() => loraConfigFromPeft({ ...peft, peft_type: 'IA3' })).toThrow(/field 'peft_type'/);
    expect(() => loraConfigFromPeft({ ...peft, r: 0 })).toThrow(/LoraConfig\.r/);
  });

  it('refuses a second adapter set and mis-shaped PEFT tensors, leaving no adapters', async () => {
    const config = tinyLlamaConfig();
    const model = createCausalLM(config, { seed: 1 });
    model.addLora({ r: 2, loraAlpha: 2, targetModules: ['q_proj'] }, { seed: 0 });
    expect(() =>
      model.addLora({ r: 2, loraAlpha: 2, targetModules: ['q_proj'] }, { seed: 0 }),
    ).toThrow(/already attached/);
    const dir = join(root, 'bad-rank');
    await saveLoraAdapter(dir, model);
    const other = createCausalLM(config, { seed: 1 });
    const cfgPath = join(dir, ADAPTER_CONFIG_FILE);
    const json = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(cfgPath, JSON.stringify({ ...json, r: 3 }));
    await expect(loadLoraAdapter(dir, other)).rejects.toThrow(
      /has shape \[2, 16\], expected \[3, 16\]/,
    );
    expect(other.lora).toBeUndefined();
    other.dispose();
    model.dispose();
  });
});
