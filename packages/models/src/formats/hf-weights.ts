/**
 * Hugging Face parameter names and layouts ↔ the canonical names of `config.ts`.
 *
 * GPT-2 (transformers `GPT2LMHeadModel`) stores its projections as `Conv1D` weights, already
 * `[in, out]`, and fuses q, k, v into one `c_attn` of shape `[D, 3D]` (columns `q | k | v`).
 * Llama and Qwen2 store `nn.Linear` weights `[out, in]`, which are transposed to `[in, out]`.
 * The RoPE convention of HF Llama checkpoints is `rotate_half` (the two halves of each head are
 * rotated together), so q/k are copied without any permutation.
 *
 * @packageDocumentation
 */
import type { ModelConfig } from '../config.js';
import { headDimOf, validateModelConfig } from '../config.js';

/** A float tensor as plain data: `data.length = Π shape`, row-major. */
export interface FloatTensorEntry {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** An input tensor as {@link parseSafetensors} returns it (integer data is rejected). */
export interface AnyTensorEntry {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

type RuleKind = 'copy' | 'transpose' | 'split';

/** One HF tensor and the canonical tensor(s) it holds. */
interface Rule {
  readonly hf: string;
  readonly hfShape: readonly number[];
  readonly kind: RuleKind;
  readonly canonical: readonly string[];
  readonly canonicalShapes: readonly (readonly number[])[];
}

const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Tile edge of {@link transpose2d}: 32×32 floats (4 KiB) per tile stay in L1 both ways. */
const TRANSPOSE_TILE = 32;

/**
 * `[rows, cols]` row-major → `[cols, rows]` row-major, tile by tile (a plain double loop writes
 * with a stride of `rows` floats and misses the cache on every store: about 3× slower on the
 * `[151 936, 896]` head of Qwen2.5-0.5B).
 */
function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i0 = 0; i0 < rows; i0 += TRANSPOSE_TILE) {
    const i1 = Math.min(rows, i0 + TRANSPOSE_TILE);
    for (let j0 = 0; j0 < cols; j0 += TRANSPOSE_TILE) {
      const j1 = Math.min(cols, j0 + TRANSPOSE_TILE);
      for (let i = i0; i < i1; i++) {
        const base = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = data[base + j] as number;
      }
    }
  }
  return out;
}

/**
 * Split the last axis of a `[rows, Σ widths]` (or `[Σ widths]`, rows = 1) array into pieces of
 * the given widths.
 */
function splitLastAxis(
  data: Float32Array,
  rows: number,
  widths: readonly number[],
): Float32Array[] {
  const total = widths.reduce((a, b) => a + b, 0);
  let start = 0;
  return widths.map((w) => {
    const out = new Float32Array(rows * w);
    for (let r = 0; r < rows; r++)
      out.set(data.subarray(r * total + start, r * total + start + w), r * w);
    start += w;
    return out;
  });
}

/** Inverse of {@link splitLastAxis}. */
function concatLastAxis(
  parts: readonly Float32Array[],
  rows: number,
  widths: readonly number[],
): Float32Array {
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  let start = 0;
  parts.forEach((p, k) => {
    const w = widths[k] as number;
    for (let r = 0; r < rows; r++) out.set(p.subarray(r * w, (r + 1) * w), r * total + start);
    start += w;
  });
  return out;
}

function gpt2Rules(c: ModelConfig): Rule[] {
  const D = c.dModel;
  const F = c.dFf;
  const V = c.vocabSize;
  const rules: Rule[] = [
    {
      hf: 'wte.weight',
      hfShape: [V, D],
      kind: 'copy',
      canonical: ['embed.weight'],
      canonicalShapes: [[V, D]],
    },
    {
      hf: 'wpe.weight',
      hfShape: [c.maxContext, D],
      kind: 'copy',
      canonical: ['pos.weight'],
      canonicalShapes: [[c.maxContext, D]],
    },
  ];
  const copy = (hf: string, canonical: string, shape: number[]): Rule => ({
    hf,
    hfShape: shape,
    kind: 'copy',
    canonical: [canonical],
    canonicalShapes: [shape],
  });
  for (let i = 0; i < c.nLayers; i++) {
    const h = `h.${i}`;
    const l = `layers.${i}`;
    rules.push(
      copy(`${h}.ln_1.weight`, `${l}.norm1.weight`, [D]),
      copy(`${h}.ln_1.bias`, `${l}.norm1.bias`, [D]),
      {
        hf: `${h}.attn.c_attn.weight`,
        hfShape: [D, 3 * D],
        kind: 'split',
        canonical: [`${l}.attn.q.weight`, `${l}.attn.k.weight`, `${l}.attn.v.weight`],
        canonicalShapes: [
          [D, D],
          [D, D],
          [D, D],
        ],
      },
      {
        hf: `${h}.attn.c_attn.bias`,
        hfShape: [3 * D],
        kind: 'split',
        canonical: [`${l}.attn.q.bias`, `${l}.attn.k.bias`, `${l}.attn.v.bias`],
        canonicalShapes: [[D], [D], [D]],
      },
      copy(`${h}.attn.c_proj.weight`, `${l}.attn.o.weight`, [D, D]),
      copy(`${h}.attn.c_proj.bias`, `${l}.attn.o.bias`, [D]),
      copy(`${h}.ln_2.weight`, `${l}.norm2.weight`, [D]),
      copy(`${h}.ln_2.bias`, `${l}.norm2.bias`, [D]),
      copy(`${h}.mlp.c_fc.weight`, `${l}.mlp.up.weight`, [D, F]),
      copy(`${h}.mlp.c_fc.bias`, `${l}.mlp.up.bias`, [F]),
      copy(`${h}.mlp.c_proj.weight`, `${l}.mlp.down.weight`, [F, D]),
      copy(`${h}.mlp.c_proj.bias`, `${l}.mlp.down.bias`, [D]),
    );
  }
  rules.push(
    copy('ln_f.weight', 'final_norm.weight', [D]),
    copy('ln_f.bias', 'final_norm.bias', [D]),
  );
  if (!c.tieEmbeddings) {
    rules.push({
      hf: 'lm_head.weight',
      hfShape: [V, D],
      kind: 'transpose',
      canonical: ['lm_head.weight'],
      canonicalShapes: [[D, V]],
    });
  }
  return rules;
}

function llamaRules(c: ModelConfig): Rule[] {
  const D = c.dModel;
  const F = c.dFf;
  const V = c.vocabSize;
  const hd = headDimOf(c);
  const Q = c.nHeads * hd;
  const KV = c.nKvHeads * hd;
  const copy = (hf: string, canonical: string, shape: number[]): Rule => ({
    hf,
    hfShape: shape,
    kind: 'copy',
    canonical: [canonical],
    canonicalShapes: [shape],
  });
  // nn.Linear(in, out).weight is [out, in]; canonical is [in, out].
  const linear = (hf: string, canonical: string, inDim: number, outDim: number): Rule => ({
    hf,
    hfShape: [outDim, inDim],
    kind: 'transpose',
    canonical: [canonical],
    canonicalShapes: [[inDim, outDim]],
  });
  const rules: Rule[] = [copy('model.embed_tokens.weight', 'embed.weight', [V, D])];
  for (let i = 0; i < c.nLayers; i++) {
    const h = `model.layers.${i}`;
    const l = `layers.${i}`;
    rules.push(
      copy(`${h}.input_layernorm.weight`, `${l}.norm1.weight`, [D]),
      linear(`${h}.self_attn.q_proj.weight`, `${l}.attn.q.weight`, D, Q),
      linear(`${h}.self_attn.k_proj.weight`, `${l}.attn.k.weight`, D, KV),
      linear(`${h}.self_attn.v_proj.weight`, `${l}.attn.v.weight`, D, KV),
    );
    if (c.qkvBias) {
      rules.push(
        copy(`${h}.self_attn.q_proj.bias`, `${l}.attn.q.bias`, [Q]),
        copy(`${h}.self_attn.k_proj.bias`, `${l}.attn.k.bias`, [KV]),
        copy(`${h}.self_attn.v_proj.bias`, `${l}.attn.v.bias`, [KV]),
      );
    }
    if (c.qkNorm === true) {
      rules.push(
        copy(`${h}.self_attn.q_norm.weight`, `${l}.attn.q_norm.weight`, [hd]),
        copy(`${h}.self_attn.k_norm.weight`, `${l}.attn.k_norm.weight`, [hd]),
      );
    }
    rules.push(
      linear(`${h}.self_attn.o_proj.weight`, `${l}.attn.o.weight`, Q, D),
      copy(`${h}.post_attention_layernorm.weight`, `${l}.norm2.weight`, [D]),
      linear(`${h}.mlp.gate_proj.weight`, `${l}.mlp.gate.weight`, D, F),
      linear(`${h}.mlp.up_proj.weight`, `${l}.mlp.up.weight`, D, F),
      linear(`${h}.mlp.down_proj.weight`, `${l}.mlp.down.weight`, F, D),
    );
  }
  rules.push(copy('model.norm.weight', 'final_norm.weight', [D]));
  if (!c.tieEmbeddings) rules.push(linear('lm_head.weight', 'lm_head.weight', D, V));
  return rules;
}

function rulesFor(config: ModelConfig): Rule[] {
  const c = validateModelConfig(config);
  return c.family === 'gpt2' ? gpt2Rules(c) : llamaRules(c);
}

/**
 * Every canonical parameter of `config` with its shape (see the table in `config.ts`), in a
 * stable order: embeddings, then layer by layer, then the final norm and an untied head.
 */
export function canonicalParameterShapes(config: ModelConfig): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  for (const rule of rulesFor(config)) {
    rule.canonical.forEach((name, k) => {
      out[name] = rule.canonicalShapes[k] as readonly number[];
    });
  }
  return out;
}

/** HF buffers (not parameters) that checkpoints may carry and that are skipped on load. */
const IGNORED_HF_TENSORS = [
  /^h\.\d+\.attn\.(masked_)?bias$/, // GPT-2's causal-mask buffers in old checkpoints
  /(^|\.)rotary_emb\.inv_freq$/, // Llama's RoPE frequencies in old checkpoints
];

/**
 * Map Hugging Face tensors to canonical `[in, out]` tensors.
 *
 * - gpt2: the optional `transformer.` prefix is stripped (`GPT2LMHeadModel` checkpoints have it,
 *   `GPT2Model` ones do not); `c_attn` `[D, 3D]` splits column-wise into q, k, v `[D, D]` and its
 *   bias `[3D]` into three `[D]`; the other Conv1D weights are copied as they are `[in, out]`.
 * - llama / qwen2 / qwen3: every `nn.Linear` weight `[out, in]` is transposed to `[in, out]`
 *   (`lm_head.weight` `[V, D]` → `[D, V]`), norms and biases are copied.
 * - tied embeddings: an `lm_head.weight` in the file is ignored (it equals the embedding);
 *   GPT-2 mask buffers and `rotary_emb.inv_freq` are ignored too.
 *
 * Inputs may have been stored as F16/BF16 (already widened to `Float32Array` by the reader).
 * The inputs are not modified. Tensors that need no change (norms, embeddings, GPT-2 Conv1D
 * weights) share their `data` array with the input instead of copying it, to keep peak memory
 * at one copy of the checkpoint; transposed and split tensors are new arrays.
 *
 * @param tensors - HF name → `{ shape, data }`, for example `parseSafetensors(...).tensors`.
 * @param config - the decoded model config (shapes are derived from it).
 * @param options.file - file name used in error messages.
 * @throws Error naming the file and: a missing tensor and its expected shape; a tensor with the
 *   wrong shape (expected and got); integer data; tensors the config has no place for.
 */
export function hfToCanonical(
  tensors: Readonly<Record<string, AnyTensorEntry>>,
  config: ModelConfig,
  options: { readonly file?: string } = {},
): Record<string, FloatTensorEntry> {
  const file = options.file ?? 'model.safetensors';
  const fail = (why: string): never => {
    throw new Error(`hfToCanonical: ${file}: ${why}`);
  };
  const byName = new Map<string, AnyTensorEntry>();
  const rawNameOf = new Map<string, string>();
  for (const [rawName, t] of Object.entries(tensors)) {
    const name =
      config.family === 'gpt2' && rawName.startsWith('transformer.')
        ? rawName.slice('transformer.'.length)
        : rawName;
    if (byName.has(name))
      fail(`tensor '${name}' appears both with and without the 'transformer.' prefix`);
    byName.set(name, t);
    rawNameOf.set(name, rawName);
  }
  const used = new Set<string>();
  const out: Record<string, FloatTensorEntry> = {};
  for (const rule of rulesFor(config)) {
    const t = byName.get(rule.hf);
    if (t === undefined) {
      return fail(
        `missing tensor '${rule.hf}' (shape ${fmt(rule.hfShape)}) required by the ${config.family} config with nLayers=${config.nLayers}, tieEmbeddings=${config.tieEmbeddings}`,
      );
    }
    used.add(rule.hf);
    const raw = rawNameOf.get(rule.hf) ?? rule.hf;
    if (!same(t.shape, rule.hfShape)) {
      fail(
        `tensor '${raw}': expected shape ${fmt(rule.hfShape)}, got ${fmt(t.shape)}; does config.json match the weights?`,
      );
    }
    if (!(t.data instanceof Float32Array)) {
      return fail(
        `tensor '${raw}': has integer data; weights must be a floating dtype (F32, F16, BF16)`,
      );
    }
    const data = t.data;
    if (rule.kind === 'copy') {
      // Shared, not copied: a 0.5B-parameter checkpoint would otherwise be held twice.
      out[rule.canonical[0] as string] = { shape: [...rule.hfShape], data };
    } else if (rule.kind === 'transpose') {
      const [rows, cols] = rule.hfShape as [number, number];
      out[rule.canonical[0] as string] = {
        shape: [cols, rows],
        data: transpose2d(data, rows, cols),
      };
    } else {
      const rows = rule.hfShape.length === 2 ? (rule.hfShape[0] as number) : 1;
      const widths = rule.canonicalShapes.map((s) => s[s.length - 1] as number);
      splitLastAxis(data, rows, widths).forEach((part, k) => {
        out[rule.canonical[k] as string] = {
          shape: [...(rule.canonicalShapes[k] as number[])],
          data: part,
        };
      });
    }
  }
  const extra = [...byName.keys()]
    .filter(
      (name) =>
        !used.has(name) &&
        !(name === 'lm_head.weight' && config.tieEmbeddings) &&
        !IGNORED_HF_TENSORS.some((re) => re.test(name)),
    )
    .map((name) => rawNameOf.get(name) ?? name);
  if (extra.length > 0) {
    fail(
      `unexpected tensors ${extra
        .slice(0, 5)
        .map((n) => `'${n}'`)
        .join(
          ', ',
        )}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}; does config.json (nLayers=${config.nLayers}, qkvBias=${config.qkvBias}) match the weights?`,
    );
  }
  return out;
}

/**
 * Inverse of {@link hfToCanonical}: canonical tensors → HF names and layouts, as transformers'
 * `save_pretrained` writes them (`transformer.`-prefixed for gpt2, `model.`-prefixed for
 * llama/qwen2, no `lm_head.weight` when embeddings are tied).
 *
 * Tensors that need no change share their `data` array with the input (see {@link hfToCanonical}).
 *
 * @throws Error naming a missing canonical tensor, one with the wrong shape (expected and got),
 *   or canonical tensors the config has no place for.
 */
export function canonicalToHf(
  canonical: Readonly<Record<string, FloatTensorEntry>>,
  config: ModelConfig,
  options: { readonly file?: string } = {},
): Record<string, FloatTensorEntry> {
  const where = options.file === undefined ? 'canonicalToHf' : `canonicalToHf: ${options.file}`;
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  const prefix = config.family === 'gpt2' ? 'transformer.' : '';
  const used = new Set<string>();
  const out: Record<string, FloatTensorEntry> = {};
  for (const rule of rulesFor(config)) {
    const parts = rule.canonical.map((name, k) => {
      const t = canonical[name];
      const shape = rule.canonicalShapes[k] as readonly number[];
      if (t === undefined) return fail(`missing canonical tensor '${name}' (shape ${fmt(shape)})`);
      if (!same(t.shape, shape))
        fail(`tensor '${name}': expected shape ${fmt(shape)}, got ${fmt(t.shape)}`);
      if (!(t.data instanceof Float32Array)) fail(`tensor '${name}': data must be a Float32Array`);
      used.add(name);
      return t.data;
    });
    const hfName = rule.hf === 'lm_head.weight' ? rule.hf : `${prefix}${rule.hf}`;
    if (rule.kind === 'copy') {
      out[hfName] = { shape: [...rule.hfShape], data: parts[0] as Float32Array };
    } else if (rule.kind === 'transpose') {
      const [rows, cols] = rule.hfShape as [number, number];
      // canonical is [cols, rows]; transposing it gives the HF [rows, cols].
      out[hfName] = {
        shape: [rows, cols],
        data: transpose2d(parts[0] as Float32Array, cols, rows),
      };
    } else {
      const rows = rule.hfShape.length === 2 ? (rule.hfShape[0] as number) : 1;
      const widths = rule.canonicalShapes.map((s) => s[s.length - 1] as number);
      out[hfName] = { shape: [...rule.hfShape], data: concatLastAxis(parts, rows, widths) };
    }
  }
  const extra = Object.keys(canonical).filter((n) => !used.has(n));
  if (extra.length > 0) {
    fail(
      `unexpected canonical tensors ${extra
        .slice(0, 5)
        .map((n) => `'${n}'`)
        .join(
          ', ',
        )}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''} for the ${config.family} config`,
    );
  }
  return out;
}
