import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config.js';
import { defaultModelConfig } from '../config.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalParameterShapes, canonicalToHf, hfToCanonical } from './hf-weights.js';

/** Mulberry32: reproducible random weights. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTensors(
  shapes: Record<string, number[]>,
  seed: number,
): Record<string, FloatTensorEntry> {
  const next = rng(seed);
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => [
      name,
      { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => next() * 2 - 1) },
    ]),
  );
}

const at = (t: FloatTensorEntry | undefined, i: number, j: number): number =>
  (t as FloatTensorEntry).data[i * ((t as FloatTensorEntry).shape[1] as number) + j] as number;

// Oracle name lists, written out from the transformers modelling code independently of the rules.
function gpt2HfShapes(c: ModelConfig, prefix: string): Record<string, number[]> {
  const { dModel: D, dFf: F, vocabSize: V } = c;
  const s: Record<string, number[]> = {
    [`${prefix}wte.weight`]: [V, D],
    [`${prefix}wpe.weight`]: [c.maxContext, D],
  };
  for (let i = 0; i < c.nLayers; i++) {
    const p = `${prefix}h.${i}.`;
    Object.assign(s, {
      [`${p}ln_1.weight`]: [D],
      [`${p}ln_1.bias`]: [D],
      [`${p}attn.c_attn.weight`]: [D, 3 * D],
      [`${p}attn.c_attn.bias`]: [3 * D],
      [`${p}attn.c_proj.weight`]: [D, D],
      [`${p}attn.c_proj.bias`]: [D],
      [`${p}ln_2.weight`]: [D],
      [`${p}ln_2.bias`]: [D],
      [`${p}mlp.c_fc.weight`]: [D, F],
      [`${p}mlp.c_fc.bias`]: [F],
      [`${p}mlp.c_proj.weight`]: [F, D],
      [`${p}mlp.c_proj.bias`]: [D],
    });
  }
  s[`${prefix}ln_f.weight`] = [D];
  s[`${prefix}ln_f.bias`] = [D];
  if (!c.tieEmbeddings) s['lm_head.weight'] = [V, D];
  return s;
}

function llamaHfShapes(c: ModelConfig): Record<string, number[]> {
  const { dModel: D, dFf: F, vocabSize: V } = c;
  const hd = D / c.nHeads;
  const s: Record<string, number[]> = { 'model.embed_tokens.weight': [V, D] };
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    Object.assign(s, {
      [`${p}input_layernorm.weight`]: [D],
      [`${p}self_attn.q_proj.weight`]: [c.nHeads * hd, D],
      [`${p}self_attn.k_proj.weight`]: [c.nKvHeads * hd, D],
      [`${p}self_attn.v_proj.weight`]: [c.nKvHeads * hd, D],
      [`${p}self_attn.o_proj.weight`]: [D, c.nHeads * hd],
      [`${p}post_attention_layernorm.weight`]: [D],
      [`${p}mlp.gate_proj.weight`]: [F, D],
      [`${p}mlp.up_proj.weight`]: [F, D],
      [`${p}mlp.down_proj.weight`]: [D, F],
    });
    if (c.qkvBias) {
      Object.assign(s, {
        [`${p}self_attn.q_proj.bias`]: [c.nHeads * hd],
        [`${p}self_attn.k_proj.bias`]: [c.nKvHeads * hd],
        [`${p}self_attn.v_proj.bias`]: [c.nKvHeads * hd],
      });
    }
  }
  s['model.norm.weight'] = [D];
  if (!c.tieEmbeddings) s['lm_head.weight'] = [V, D];
  return s;
}

/** The canonical table of config.ts, written out for the oracle. */
function canonicalOracle(c: ModelConfig): Record<string, number[]> {
  const { dModel: D, dFf: F, vocabSize: V } = c;
  const hd = D / c.nHeads;
  const gpt2 = c.family === 'gpt2';
  const s: Record<string, number[]> = { 'embed.weight': [V, D] };
  if (gpt2) s['pos.weight'] = [c.maxContext, D];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    s[`${p}norm1.weight`] = [D];
    s[`${p}attn.q.weight`] = [D, c.nHeads * hd];
    s[`${p}attn.k.weight`] = [D, c.nKvHeads * hd];
    s[`${p}attn.v.weight`] = [D, c.nKvHeads * hd];
    s[`${p}attn.o.weight`] = [c.nHeads * hd, D];
    s[`${p}norm2.weight`] = [D];
    s[`${p}mlp.up.weight`] = [D, F];
    s[`${p}mlp.down.weight`] = [F, D];
    if (c.qkvBias) {
      s[`${p}attn.q.bias`] = [c.nHeads * hd];
      s[`${p}attn.k.bias`] = [c.nKvHeads * hd];
      s[`${p}attn.v.bias`] = [c.nKvHeads * hd];
    }
    if (gpt2) {
      Object.assign(s, {
        [`${p}norm1.bias`]: [D],
        [`${p}attn.o.bias`]: [D],
        [`${p}norm2.bias`]: [D],
        [`${p}mlp.up.bias`]: [F],
        [`${p}mlp.down.bias`]: [D],
      });
    } else {
      s[`${p}mlp.gate.weight`] = [D, F];
    }
  }
  s['final_norm.weight'] = [D];
  if (gpt2) s['final_norm.bias'] = [D];
  if (!c.tieEmbeddings) s['lm_head.weight'] = [D, V];
  return s;
}

const gpt2Untied = defaultModelConfig('gpt2', {
  vocabSize: 11,
  dModel: 8,
  nHeads: 2,
  nLayers: 2,
  dFf: 12,
  maxContext: 5,
  tieEmbeddings: false,
});
const gpt2Tied = { ...gpt2Untied, tieEmbeddings: true };
const llamaUntied = defaultModelConfig('llama', {
  vocabSize: 13,
  dModel: 8,
  nHeads: 4,
  nKvHeads: 2,
  nLayers: 2,
  dFf: 12,
  maxContext: 16,
  tieEmbeddings: false,
});
const qwen2Tied = { ...llamaUntied, qkvBias: true, tieEmbeddings: true };

describe('canonicalParameterShapes', () => {
  it.each([
    ['gpt2 untied', gpt2Untied],
    ['gpt2 tied', gpt2Tied],
    ['llama untied', llamaUntied],
    ['qwen2 tied', qwen2Tied],
  ])('matches the table of config.ts for %s', (_name, config) => {
    const shapes = canonicalParameterShapes(config);
    expect(Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, [...v]]))).toEqual(
      canonicalOracle(config),
    );
  });
});

describe('hfToCanonical: gpt2', () => {
  const hf = randomTensors(gpt2HfShapes(gpt2Untied, 'transformer.'), 1);
  const canonical = hfToCanonical(hf, gpt2Untied, { file: 'gpt2.safetensors' });

  it('splits the fused c_attn column-wise into q, k, v and copies Conv1D weights unchanged', () => {
    const D = gpt2Untied.dModel;
    const cAttn = hf['transformer.h.1.attn.c_attn.weight'];
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        expect(at(canonical['layers.1.attn.q.weight'], i, j)).toBe(at(cAttn, i, j));
        expect(at(canonical['layers.1.attn.k.weight'], i, j)).toBe(at(cAttn, i, D + j));
        expect(at(canonical['layers.1.attn.v.weight'], i, j)).toBe(at(cAttn, i, 2 * D + j));
      }
    }
    const bias = hf['transformer.h.1.attn.c_attn.bias']?.data as Float32Array;
    expect(Array.from(canonical['layers.1.attn.k.bias']?.data ?? [])).toEqual(
      Array.from(bias.subarray(D, 2 * D)),
    );
    expect(canonical['layers.0.mlp.up.weight']?.data).toEqual(
      hf['transformer.h.0.mlp.c_fc.weight']?.data,
    );
    expect(canonical['layers.0.mlp.down.weight']?.data).toEqual(
      hf['transformer.h.0.mlp.c_proj.weight']?.data,
    );
    expect(canonical['layers.0.attn.o.weight']?.data).toEqual(
      hf['transformer.h.0.attn.c_proj.weight']?.data,
    );
    expect(canonical['pos.weight']?.data).toEqual(hf['transformer.wpe.weight']?.data);
    expect(canonical['final_norm.bias']?.data).toEqual(hf['transformer.ln_f.bias']?.data);
  });

  it('transposes the untied lm_head [V, D] to [D, V]', () => {
    const head = canonical['lm_head.weight'];
    expect(head?.shape).toEqual([gpt2Untied.dModel, gpt2Untied.vocabSize]);
    for (let v = 0; v < gpt2Untied.vocabSize; v++) {
      for (let d = 0; d < gpt2Untied.dModel; d++)
        expect(at(head, d, v)).toBe(at(hf['lm_head.weight'], v, d));
    }
  });

  it('round-trips through canonicalToHf exactly, with and without the transformer. prefix', () => {
    expect(canonicalToHf(canonical, gpt2Untied)).toEqual(hf);
    const unprefixed = randomTensors(gpt2HfShapes(gpt2Tied, ''), 2);
    const back = canonicalToHf(hfToCanonical(unprefixed, gpt2Tied), gpt2Tied);
    expect(
      Object.fromEntries(Object.entries(back).map(([k, v]) => [k.replace('transformer.', ''), v])),
    ).toEqual(unprefixed);
  });

  it('ignores mask buffers and a tied lm_head', () => {
    const withBuffers = {
      ...randomTensors(gpt2HfShapes(gpt2Tied, ''), 3),
      'h.0.attn.bias': { shape: [1, 1, 5, 5], data: new Float32Array(25) },
      'h.0.attn.masked_bias': { shape: [], data: new Float32Array(1) },
      'lm_head.weight': { shape: [11, 8], data: new Float32Array(88) },
    };
    expect(Object.keys(hfToCanonical(withBuffers, gpt2Tied)).sort()).toEqual(
      Object.keys(canonicalOracle(gpt2Tied)).sort(),
    );
  });
});

describe('hfToCanonical: llama and qwen2', () => {
  it.each([
    ['llama', llamaUntied],
    ['qwen2', qwen2Tied],
  ])(
    'transposes nn.Linear weights [out, in] to [in, out] for %s and round-trips',
    (_name, config) => {
      const hf = randomTensors(llamaHfShapes(config), 4);
      const canonical = hfToCanonical(hf, config);
      const pairs: [string, string][] = [
        ['model.layers.1.self_attn.q_proj.weight', 'layers.1.attn.q.weight'],
        ['model.layers.1.self_attn.k_proj.weight', 'layers.1.attn.k.weight'],
        ['model.layers.0.self_attn.v_proj.weight', 'layers.0.attn.v.weight'],
        ['model.layers.0.self_attn.o_proj.weight', 'layers.0.attn.o.weight'],
        ['model.layers.0.mlp.gate_proj.weight', 'layers.0.mlp.gate.weight'],
        ['model.layers.1.mlp.up_proj.weight', 'layers.1.mlp.up.weight'],
        ['model.layers.1.mlp.down_proj.weight', 'layers.1.mlp.down.weight'],
      ];
      if (!config.tieEmbeddings) pairs.push(['lm_head.weight', 'lm_head.weight']);
      for (const [hfName, name] of pairs) {
        const [rows, cols] = hf[hfName]?.shape as [number, number];
        expect(canonical[name]?.shape).toEqual([cols, rows]);
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++)
            expect(at(canonical[name], j, i)).toBe(at(hf[hfName], i, j));
        }
      }
      expect(canonical['embed.weight']?.data).toEqual(hf['model.embed_tokens.weight']?.data);
      expect(canonical['final_norm.weight']?.data).toEqual(hf['model.norm.weight']?.data);
      expect(canonical['layers.1.norm2.weight']?.data).toEqual(
        hf['model.layers.1.post_attention_layernorm.weight']?.data,
      );
      if (config.qkvBias) {
        expect(canonical['layers.0.attn.k.bias']?.data).toEqual(
          hf['model.layers.0.self_attn.k_proj.bias']?.data,
        );
      }
      expect(canonicalToHf(canonical, config)).toEqual(hf);
    },
  );
});

describe('mapping errors name the tensor', () => {
  const hf = randomTensors(llamaHfShapes(llamaUntied), 5);

  it('missing tensor', () => {
    const { ['model.layers.1.mlp.gate_proj.weight']: _gone, ...rest } = hf;
    expect(() => hfToCanonical(rest, llamaUntied, { file: 'w.safetensors' })).toThrow(
      "hfToCanonical: w.safetensors: missing tensor 'model.layers.1.mlp.gate_proj.weight' (shape [12, 8])",
    );
  });

  it('wrong shape, with expected and got', () => {
    const bad = {
      ...hf,
      'model.layers.0.self_attn.k_proj.weight': { shape: [8, 8], data: new Float32Array(64) },
    };
    expect(() => hfToCanonical(bad, llamaUntied)).toThrow(
      "tensor 'model.layers.0.self_attn.k_proj.weight': expected shape [4, 8], got [8, 8]",
    );
  });

  it('unexpected tensors (a config with too few layers) and integer data', () => {
    expect(() => hfToCanonical(hf, { ...llamaUntied, nLayers: 1 })).toThrow(
      /unexpected tensors 'model\.layers\.1\.input_layernorm\.weight'.* and \d+ more; does config\.json/,
    );
    const ints = { ...hf, 'model.norm.weight': { shape: [8], data: new Int32Array(8) } };
    expect(() => hfToCanonical(ints, llamaUntied)).toThrow(
      /tensor 'model\.norm\.weight': has integer data/,
    );
  });

  it('canonicalToHf names missing, mis-shaped and unexpected canonical tensors', () => {
    const canonical = hfToCanonical(hf, llamaUntied);
    const { ['layers.0.attn.o.weight']: _o, ...rest } = canonical;
    expect(() => canonicalToHf(rest, llamaUntied)).toThrow(
      "missing canonical tensor 'layers.0.attn.o.weight' (shape [8, 8])",
    );
    expect(() =>
      canonicalToHf(
        { ...canonical, 'lm_head.weight': { shape: [13, 8], data: new Float32Array(104) } },
        llamaUntied,
      ),
    ).toThrow("tensor 'lm_head.weight': expected shape [8, 13], got [13, 8]");
    expect(() => canonicalToHf(canonical, { ...llamaUntied, tieEmbeddings: true })).toThrow(
      /unexpected canonical tensors 'lm_head\.weight'/,
    );
  });
});
