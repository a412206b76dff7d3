/**
 * End-to-end check of the HF name mapping against the decoders: a naive float64 forward pass that
 * follows transformers' modelling code (modeling_gpt2.py, modeling_llama.py / modeling_qwen2.py)
 * directly on HF-named, HF-laid-out tensors must give the same logits as `createCausalLM` with the
 * weights mapped by `hfToCanonical`. This pins the layouts (Conv1D [in, out], nn.Linear [out, in],
 * fused c_attn split order) and the RoPE convention (rotate_half) together.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../config.js';
import { defaultModelConfig } from '../config.js';
import { createCausalLM } from '../model.js';
import type { FloatTensorEntry } from './hf-weights.js';
import { canonicalToHf, canonicalParameterShapes, hfToCanonical } from './hf-weights.js';
import { recordToTensors } from './safetensors.js';

type Mat = number[][];

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

/** Random HF tensors: generated in canonical form (so every name exists), mapped to HF names. */
function randomHf(config: ModelConfig, seed: number): Record<string, FloatTensorEntry> {
  const next = rng(seed);
  const canonical = Object.fromEntries(
    Object.entries(canonicalParameterShapes(config)).map(([name, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const isNorm = name.includes('norm') && name.endsWith('.weight');
      const data = new Float32Array(n).map(() =>
        isNorm ? 1 + (next() - 0.5) * 0.4 : (next() - 0.5) * 0.6,
      );
      return [name, { shape: [...shape], data }];
    }),
  );
  return canonicalToHf(canonical, config);
}

/** An HF tensor as a matrix ([rows, cols]) or a vector (rows = 1). */
function mat(t: FloatTensorEntry | undefined, name: string): Mat {
  if (t === undefined) throw new Error(`reference: no tensor ${name}`);
  const cols = t.shape.length === 2 ? (t.shape[1] as number) : (t.shape[0] as number);
  const rows = t.shape.length === 2 ? (t.shape[0] as number) : 1;
  return Array.from({ length: rows }, (_, i) =>
    Array.from(t.data.subarray(i * cols, (i + 1) * cols)),
  );
}

const vec = (m: Mat): number[] => m[0] as number[];
/** x [L, in] · W [in, out] (+ b). */
const conv1d = (x: Mat, w: Mat, b?: number[]): Mat =>
  x.map((row) =>
    (w[0] as number[]).map((_, j) =>
      row.reduce((s, xi, i) => s + xi * ((w[i] as number[])[j] as number), b?.[j] ?? 0),
    ),
  );
/** x [L, in] · Wᵀ with W [out, in] (+ b): torch.nn.Linear. */
const linear = (x: Mat, w: Mat, b?: number[]): Mat =>
  x.map((row) =>
    w.map((wr, j) => row.reduce((s, xi, i) => s + xi * (wr[i] as number), b?.[j] ?? 0)),
  );
const add = (a: Mat, b: Mat): Mat =>
  a.map((r, i) => r.map((v, j) => v + ((b[i] as number[])[j] as number)));
const layerNorm = (x: Mat, w: number[], b: number[], eps: number): Mat =>
  x.map((r) => {
    const mean = r.reduce((s, v) => s + v, 0) / r.length;
    const variance = r.reduce((s, v) => s + (v - mean) ** 2, 0) / r.length;
    return r.map(
      (v, j) => ((v - mean) / Math.sqrt(variance + eps)) * (w[j] as number) + (b[j] as number),
    );
  });
const rmsNorm = (x: Mat, w: number[], eps: number): Mat =>
  x.map((r) => {
    const ms = r.reduce((s, v) => s + v * v, 0) / r.length;
    return r.map((v, j) => (v / Math.sqrt(ms + eps)) * (w[j] as number));
  });
const geluNew = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number): number => x / (1 + Math.exp(-x));

/** Causal multi-head attention with grouped KV heads; q [L, H·hd], k/v [L, KV·hd]. */
function attention(q: Mat, k: Mat, v: Mat, H: number, KV: number, hd: number): Mat {
  const L = q.length;
  const out: Mat = Array.from({ length: L }, () => new Array<number>(H * hd).fill(0));
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / KV));
    for (let t = 0; t < L; t++) {
      const scores: number[] = [];
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < hd; d++)
          dot += (q[t]?.[h * hd + d] as number) * (k[s]?.[g * hd + d] as number);
        scores.push(dot / Math.sqrt(hd));
      }
      const m = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += ((e[s] as number) / z) * (v[s]?.[g * hd + d] as number);
        (out[t] as number[])[h * hd + d] = acc;
      }
    }
  }
  return out;
}

/** transformers' apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁]. */
function rope(x: Mat, heads: number, hd: number, theta: number): Mat {
  const half = hd / 2;
  return x.map((row, pos) => {
    const out = row.slice();
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < half; j++) {
        const angle = pos / theta ** ((2 * j) / hd);
        const x1 = row[h * hd + j] as number;
        const x2 = row[h * hd + j + half] as number;
        out[h * hd + j] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
        out[h * hd + j + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
      }
    }
    return out;
  });
}

function gpt2Reference(hf: Record<string, FloatTensorEntry>, c: ModelConfig, ids: number[]): Mat {
  const T = (n: string): Mat => mat(hf[`transformer.${n}`] ?? hf[n], n);
  const D = c.dModel;
  const wte = T('wte.weight');
  const wpe = T('wpe.weight');
  let h: Mat = ids.map((id, p) =>
    (wte[id] as number[]).map((v, j) => v + ((wpe[p] as number[])[j] as number)),
  );
  for (let i = 0; i < c.nLayers; i++) {
    const p = `h.${i}.`;
    const a = layerNorm(h, vec(T(`${p}ln_1.weight`)), vec(T(`${p}ln_1.bias`)), c.normEps);
    const qkv = conv1d(a, T(`${p}attn.c_attn.weight`), vec(T(`${p}attn.c_attn.bias`)));
    const q = qkv.map((r) => r.slice(0, D));
    const k = qkv.map((r) => r.slice(D, 2 * D));
    const v = qkv.map((r) => r.slice(2 * D, 3 * D));
    const att = attention(q, k, v, c.nHeads, c.nHeads, D / c.nHeads);
    h = add(h, conv1d(att, T(`${p}attn.c_proj.weight`), vec(T(`${p}attn.c_proj.bias`))));
    const m = layerNorm(h, vec(T(`${p}ln_2.weight`)), vec(T(`${p}ln_2.bias`)), c.normEps);
    const u = conv1d(m, T(`${p}mlp.c_fc.weight`), vec(T(`${p}mlp.c_fc.bias`))).map((r) =>
      r.map(geluNew),
    );
    h = add(h, conv1d(u, T(`${p}mlp.c_proj.weight`), vec(T(`${p}mlp.c_proj.bias`))));
  }
  h = layerNorm(h, vec(T('ln_f.weight')), vec(T('ln_f.bias')), c.normEps);
  return linear(h, c.tieEmbeddings ? wte : mat(hf['lm_head.weight'], 'lm_head.weight'));
}

/** Qwen3RMSNorm over each head of `x [L, heads·hd]`: `hidden_states.view(…, heads, hd)`. */
const headRmsNorm = (x: Mat, heads: number, hd: number, w: number[], eps: number): Mat =>
  x.map((row) =>
    Array.from({ length: heads }, (_, h) =>
      vec(rmsNorm([row.slice(h * hd, (h + 1) * hd)], w, eps)),
    ).flat(),
  );

function llamaReference(hf: Record<string, FloatTensorEntry>, c: ModelConfig, ids: number[]): Mat {
  const T = (n: string): Mat => mat(hf[n], n);
  const hd = c.headDim ?? c.dModel / c.nHeads;
  const qkNorm = (x: Mat, heads: number, name: string): Mat =>
    c.qkNorm === true ? headRmsNorm(x, heads, hd, vec(T(name)), c.normEps) : x;
  const embed = T('model.embed_tokens.weight');
  let h: Mat = ids.map((id) => (embed[id] as number[]).slice());
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    const bias = (n: string): number[] | undefined =>
      c.qkvBias ? vec(T(`${p}self_attn.${n}.bias`)) : undefined;
    const a = rmsNorm(h, vec(T(`${p}input_layernorm.weight`)), c.normEps);
    const q = rope(
      qkNorm(
        linear(a, T(`${p}self_attn.q_proj.weight`), bias('q_proj')),
        c.nHeads,
        `${p}self_attn.q_norm.weight`,
      ),
      c.nHeads,
      hd,
      c.ropeTheta,
    );
    const k = rope(
      qkNorm(
        linear(a, T(`${p}self_attn.k_proj.weight`), bias('k_proj')),
        c.nKvHeads,
        `${p}self_attn.k_norm.weight`,
      ),
      c.nKvHeads,
      hd,
      c.ropeTheta,
    );
    const v = linear(a, T(`${p}self_attn.v_proj.weight`), bias('v_proj'));
    h = add(
      h,
      linear(attention(q, k, v, c.nHeads, c.nKvHeads, hd), T(`${p}self_attn.o_proj.weight`)),
    );
    const m = rmsNorm(h, vec(T(`${p}post_attention_layernorm.weight`)), c.normEps);
    const gate = linear(m, T(`${p}mlp.gate_proj.weight`));
    const up = linear(m, T(`${p}mlp.up_proj.weight`));
    const act = gate.map((r, t) => r.map((g, j) => silu(g) * ((up[t] as number[])[j] as number)));
    h = add(h, linear(act, T(`${p}mlp.down_proj.weight`)));
  }
  h = rmsNorm(h, vec(T('model.norm.weight')), c.normEps);
  return linear(h, c.tieEmbeddings ? embed : T('lm_head.weight'));
}

const configs: [string, ModelConfig][] = [
  [
    'gpt2 (untied head)',
    defaultModelConfig('gpt2', {
      vocabSize: 11,
      dModel: 8,
      nHeads: 2,
      nLayers: 2,
      dFf: 12,
      maxContext: 8,
      tieEmbeddings: false,
    }),
  ],
  [
    'gpt2 (tied)',
    defaultModelConfig('gpt2', {
      vocabSize: 11,
      dModel: 8,
      nHeads: 2,
      nLayers: 1,
      dFf: 12,
      maxContext: 8,
    }),
  ],
  [
    'llama (GQA, untied)',
    defaultModelConfig('llama', {
      vocabSize: 13,
      dModel: 16,
      nHeads: 4,
      nKvHeads: 2,
      nLayers: 2,
      dFf: 12,
      ropeTheta: 100,
      tieEmbeddings: false,
    }),
  ],
  [
    'qwen2 (q/k/v biases, tied)',
    defaultModelConfig('llama', {
      vocabSize: 13,
      dModel: 8,
      nHeads: 2,
      nKvHeads: 1,
      nLayers: 1,
      dFf: 12,
      ropeTheta: 50,
      qkvBias: true,
    }),
  ],
  [
    'qwen2 (q/k/v biases, GQA 4:2, untied)',
    defaultModelConfig('llama', {
      vocabSize: 17,
      dModel: 16,
      nHeads: 4,
      nKvHeads: 2,
      nLayers: 2,
      dFf: 20,
      ropeTheta: 1e6,
      qkvBias: true,
      tieEmbeddings: false,
    }),
  ],
  [
    'qwen3 (q/k norms, GQA 4:2, head_dim 6 with hidden 16, tied)',
    defaultModelConfig('llama', {
      vocabSize: 13,
      dModel: 16,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 6,
      qkNorm: true,
      nLayers: 2,
      dFf: 20,
      ropeTheta: 1e6,
      qkvBias: false,
    }),
  ],
];

describe('HF checkpoints give transformers-equivalent logits through hfToCanonical', () => {
  it.each(configs)('%s', async (_name, config) => {
    const hf = randomHf(config, 17);
    const ids = [3, 1, 4, 1, 5, 9, 2].map((x) => x % config.vocabSize);
    const expected =
      config.family === 'gpt2' ? gpt2Reference(hf, config, ids) : llamaReference(hf, config, ids);
    const tensors = recordToTensors({ record: hfToCanonical(hf, config) });
    const model = createCausalLM(config, { seed: 0, weights: tensors });
    tf.dispose(Object.values(tensors));
    const logits = model.logits({ ids: [ids] });
    const got = ((await logits.array()) as number[][][])[0] as number[][];
    logits.dispose();
    model.dispose();
    expect(got.length).toBe(ids.length);
    got.forEach((row, t) =>
      row.forEach((v, j) =>
        expect(Math.abs(v - ((expected[t] as number[])[j] as number))).toBeLessThan(1e-4),
      ),
    );
  });
});
