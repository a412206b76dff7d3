/**
 * The decoder stack shared by both families (the forward pass only; the public object is
 * `CausalLM` in `model.ts`).
 *
 * - gpt2 (Radford et al. 2019): learned positions, pre-LayerNorm blocks, tanh-GELU MLP, biases.
 * - llama (Touvron et al. 2023, arXiv:2302.13971): RMSNorm, RoPE, SwiGLU MLP, grouped-query
 *   attention (arXiv:2305.13245), optional q/k/v biases (Qwen2).
 *
 * Activations are kept flat as `[B·L, D]` so every projection is one rank-2 matmul.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LOGITS_CHUNK_ELEMENTS } from './chunked-logits.js';
import { MASK_BIAS, attentionBias, causalSelfAttention, decodeAttention } from './attention.js';
import type { LayerKv } from './attention.js';
import { headDimOf } from './config.js';
import type { ModelConfig } from './config.js';
import { appendLayerKv, writePosition } from './kv-cache.js';
import type { KvCache } from './kv-cache.js';
import { applyRope, decodeBlocks, inferenceBlocks, ropeTables, trainingBlocks } from './layers.js';
import type { Blocks, Ops } from './layers.js';
import { parameterShapes } from './init.js';

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** Tensors a block reads besides its input and parameters. */
interface BlockConstants {
  readonly rope: { cos: tf.Tensor; sin: tf.Tensor } | undefined;
  readonly maskBias: tf.Tensor;
}

/** Largest table (vocabulary, positions) read by a one-hot matmul instead of a gather. */
export const ONE_HOT_MAX_ROWS = 512;

/** The parameters, looked up by canonical name. */
export type ParameterLookup = (name: string) => tf.Tensor;

/**
 * A low-rank term added to one projection (LoRA, Hu et al. 2021, arXiv:2106.09685 §4.1):
 * `y = x·W (+ b) + scale·(drop(x)·a)·b` with `a [in, r]`, `b [r, out]` (PEFT's `lora_A.weight`ᵀ
 * and `lora_B.weight`ᵀ). `dropout`, when given, maps `x` to its dropped-out copy (training only).
 */
export interface LowRankTerm {
  readonly a: tf.Tensor;
  readonly b: tf.Tensor;
  readonly scale: number;
  readonly dropout?: ((x: tf.Tensor) => tf.Tensor) | undefined;
}

/**
 * The adapter of a projection by the canonical name of its weight (`layers.0.attn.q.weight`), or
 * `undefined` for none. Called on every forward pass (so turning adapters off is immediate).
 */
export type AdapterLookup = (
  weightName: string,
  differentiable: boolean,
) => LowRankTerm | undefined;

export class Decoder {
  private readonly headDim: number;
  private readonly gpt2: boolean;
  private readonly training: Blocks;
  /** Low-rank adapters (set by `CausalLM` when LoRA is attached); `undefined` = none. */
  adapters: AdapterLookup | undefined;
  /**
   * Largest `rows·V` logits block that scoring materialises at once; above it, scoring runs in
   * row chunks (`chunked-logits.ts`).
   */
  logitsChunkElements = LOGITS_CHUNK_ELEMENTS;
  /**
   * Activation recomputation (gradient checkpointing, Chen et al. 2016, arXiv:1604.06174) in
   * differentiable forward passes: each block keeps only its input; its activations are
   * recomputed, one block at a time, in the backward pass.
   */
  recompute = false;

  constructor(
    readonly config: ModelConfig,
    private readonly param: ParameterLookup,
    readonly ops: Ops,
  ) {
    this.headDim = headDimOf(config);
    this.gpt2 = config.family === 'gpt2';
    this.training = trainingBlocks(ops);
  }

  private bias(name: string): tf.Tensor | undefined {
    return this.gpt2 || this.config.qkvBias ? this.param(name) : undefined;
  }

  private norm(k: Blocks, x: tf.Tensor, prefix: string): tf.Tensor2D {
    return this.gpt2
      ? k.layerNorm(
          x,
          this.param(`${prefix}.weight`),
          this.param(`${prefix}.bias`),
          this.config.normEps,
        )
      : k.rmsNorm(x, this.param(`${prefix}.weight`), this.config.normEps);
  }

  /**
   * The projection `x·W + b` of the weight named `weight` (bias `bias` when given), plus its
   * low-rank adapter term when one is attached and enabled.
   */
  private proj(k: Blocks, x: tf.Tensor, weight: string, bias?: tf.Tensor): tf.Tensor2D {
    const y = k.linear(x, this.param(weight), bias);
    const term = this.adapters?.(weight, k === this.training);
    if (term === undefined) return y;
    const xIn = term.dropout === undefined ? x : term.dropout(x);
    // scale·(x·a)·b: the scale multiplies the small [N, r] product.
    const low = tf.mul(k.mm(xIn, term.a), term.scale);
    const delta = k.mm(low, term.b);
    return tf.add(y, tf.reshape(delta, y.shape)) as tf.Tensor2D;
  }

  private mlp(k: Blocks, h: tf.Tensor, p: string): tf.Tensor2D {
    if (this.gpt2) {
      const u = k.gelu(this.proj(k, h, `${p}mlp.up.weight`, this.param(`${p}mlp.up.bias`)));
      return this.proj(k, u, `${p}mlp.down.weight`, this.param(`${p}mlp.down.bias`));
    }
    const g = this.proj(k, h, `${p}mlp.gate.weight`);
    const u = k.siluGate(g, this.proj(k, h, `${p}mlp.up.weight`));
    return this.proj(k, u, `${p}mlp.down.weight`);
  }

  /**
   * Qwen3's RMSNorm over each head of `x [N, heads·hd]` (weight `[hd]`, HF `Qwen3RMSNorm` on the
   * `[…, heads, hd]` view), before RoPE. Also rank-3 `[1, B, heads·hd]` in decoding.
   */
  private headNorm(k: Blocks, x: tf.Tensor, weight: string): tf.Tensor2D {
    const hd = this.headDim;
    const flat = tf.reshape(x, [x.size / hd, hd]);
    const normed = k.rmsNorm(flat, this.param(weight), this.config.normEps);
    const out: tf.Tensor = tf.reshape(normed, x.shape as number[]);
    return out as tf.Tensor2D;
  }

  /** q, k, v projections of `h [N, D]`, RoPE applied for llama. */
  private qkv(
    k: Blocks,
    h: tf.Tensor,
    p: string,
    rope: { cos: tf.Tensor; sin: tf.Tensor } | undefined,
  ): { q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D } {
    const cfg = this.config;
    let q = this.proj(k, h, `${p}attn.q.weight`, this.bias(`${p}attn.q.bias`));
    let kk = this.proj(k, h, `${p}attn.k.weight`, this.bias(`${p}attn.k.bias`));
    const v = this.proj(k, h, `${p}attn.v.weight`, this.bias(`${p}attn.v.bias`));
    if (cfg.qkNorm === true) {
      q = this.headNorm(k, q, `${p}attn.q_norm.weight`);
      kk = this.headNorm(k, kk, `${p}attn.k_norm.weight`);
    }
    if (rope !== undefined) {
      q = applyRope(q, cfg.nHeads, rope.cos, rope.sin);
      kk = applyRope(kk, cfg.nKvHeads, rope.cos, rope.sin);
    }
    return { q, k: kk, v };
  }

  private attnOut(k: Blocks, o: tf.Tensor, p: string): tf.Tensor2D {
    return this.proj(
      k,
      o,
      `${p}attn.o.weight`,
      this.gpt2 ? this.param(`${p}attn.o.bias`) : undefined,
    );
  }

  private rope(positions: ArrayLike<number>): { cos: tf.Tensor; sin: tf.Tensor } | undefined {
    if (this.gpt2) return undefined;
    const n = positions.length;
    const { cos, sin } = ropeTables(positions, this.headDim, this.config.ropeTheta);
    return {
      cos: tf.tensor3d(cos, [n, 1, this.headDim]),
      sin: tf.tensor3d(sin, [n, 1, this.headDim]),
    };
  }

  /** Rows `idx` of a table: a one-hot matmul for small tables (the wasm Gather is slow per row). */
  private lookup(k: Blocks, table: tf.Tensor, idx: tf.Tensor1D): tf.Tensor2D {
    const rows = table.shape[0] ?? 0;
    return rows <= ONE_HOT_MAX_ROWS ? k.mm(tf.oneHot(idx, rows), table) : k.gatherRows(table, idx);
  }

  /**
   * Token (+ position) embeddings, `[B·L, D]`. `positions` (length `B·L`) is only needed when
   * rows do not start at position 0 (left-padded prompts, decoding).
   */
  private embed(
    k: Blocks,
    idsFlat: tf.Tensor1D,
    batch: number,
    length: number,
    positions: ArrayLike<number> | undefined,
  ): tf.Tensor2D {
    const x = this.lookup(k, this.param('embed.weight'), idsFlat);
    if (!this.gpt2) return x;
    const pos = this.param('pos.weight');
    if (positions === undefined) {
      const D = this.config.dModel;
      const rows = tf.slice(pos, [0, 0], [length, D]);
      return tf.reshape(tf.add(tf.reshape(x, [batch, length, D]), rows), [batch * length, D]);
    }
    return tf.add(x, this.lookup(k, pos, tf.tensor1d(Array.from(positions), 'int32')));
  }

  /**
   * Full-sequence forward: `ids [B, L]` int32 → final-normed hidden states `[B·L, D]` (row
   * `b·L + t`). `positions` (length `B·L`, default `t`) and `keyBias [B, L]` serve left-padded
   * prefill; with `withCache` the per-layer K/V are returned in cache layout (caller owns them).
   * `differentiable: false` runs plain kernels (prefill).
   */
  forward({
    ids,
    positions,
    keyBias,
    withCache = false,
    differentiable = true,
  }: {
    ids: tf.Tensor2D;
    positions?: ArrayLike<number>;
    keyBias?: tf.Tensor2D;
    withCache?: boolean;
    differentiable?: boolean;
  }): { hidden: tf.Tensor2D; cache: LayerKv[] } {
    const [B, L] = ids.shape;
    const cfg = this.config;
    const k = differentiable ? this.training : inferenceBlocks;
    let posArr = positions;
    if (posArr === undefined && !this.gpt2) {
      const a = new Int32Array(B * L);
      for (let i = 0; i < B * L; i++) a[i] = i % L;
      posArr = a;
    }
    const rope = posArr === undefined ? undefined : this.rope(posArr);
    let x = this.embed(k, tf.reshape(ids, [B * L]) as tf.Tensor1D, B, L, positions);
    const cache: LayerKv[] = [];
    const maskBias = attentionBias({
      batch: B,
      length: L,
      groups: cfg.nHeads / cfg.nKvHeads,
      keyBias,
    });
    const block = (xIn: tf.Tensor, i: number, c: BlockConstants): tf.Tensor => {
      const p = `layers.${i}.`;
      const { q, k: kk, v } = this.qkv(k, this.norm(k, xIn, `${p}norm1`), p, c.rope);
      const attn = causalSelfAttention({
        q,
        k: kk,
        v,
        batch: B,
        length: L,
        nHeads: cfg.nHeads,
        nKvHeads: cfg.nKvHeads,
        maskBias: c.maskBias,
        mode: this.ops.mode,
        withCache,
      });
      if (attn.cache !== undefined) cache.push(attn.cache);
      const h = tf.add(xIn, this.attnOut(k, attn.out, p));
      return tf.add(h, this.mlp(k, this.norm(k, h, `${p}norm2`), p));
    };
    const recompute = this.recompute && differentiable && !withCache;
    for (let i = 0; i < cfg.nLayers; i++) {
      const c = { rope, maskBias };
      x = (recompute ? this.checkpointed(x, i, block, c) : block(x, i, c)) as tf.Tensor2D;
    }
    return { hidden: this.norm(k, x, 'final_norm'), cache };
  }

  /**
   * Block `i` as one custom-gradient op whose only saved tensor is its input `x [N, D]`. Forward:
   * the block with the tape off (no activation is kept). Backward: the block is run again under
   * `tf.grads` with respect to `x` and every parameter it reads (the layer's weights and its LoRA
   * adapters), and the vector-Jacobian product with `dy` is returned. Same values as without
   * recomputation; one extra forward of the block per backward.
   * @throws Error when LoRA dropout is on (its masks would differ between the two runs).
   */
  private checkpointed(
    x: tf.Tensor,
    i: number,
    block: (xIn: tf.Tensor, i: number, c: BlockConstants) => tf.Tensor,
    constants: BlockConstants,
  ): tf.Tensor {
    const prefix = `layers.${i}.`;
    const params: tf.Tensor[] = [];
    const seen = new Set<tf.Tensor>();
    const add = (t: tf.Tensor): void => {
      if (!seen.has(t)) {
        seen.add(t);
        params.push(t);
      }
    };
    for (const name of Object.keys(parameterShapes(this.config))) {
      if (!name.startsWith(prefix)) continue;
      add(this.param(name));
      const term = this.adapters?.(name, true);
      if (term !== undefined) {
        if (term.dropout !== undefined) {
          throw new Error(
            'Decoder: LoRA dropout cannot run with activation recomputation (the recomputed masks would differ); turn one of them off',
          );
        }
        add(term.a);
        add(term.b);
      }
    }
    // The constants (RoPE tables, mask) are inputs too and saved: the caller's tidy frees the
    // originals before the backward pass.
    const consts: tf.Tensor[] =
      constants.rope === undefined
        ? [constants.maskBias]
        : [constants.rope.cos, constants.rope.sin, constants.maskBias];
    const unpack = (t: readonly tf.Tensor[]): BlockConstants =>
      t.length === 1
        ? { rope: undefined, maskBias: t[0] as tf.Tensor }
        : {
            rope: { cos: t[0] as tf.Tensor, sin: t[1] as tf.Tensor },
            maskBias: t[2] as tf.Tensor,
          };
    const fn: CustomGradFn = (...args) => {
      const xIn = args[0] as tf.Tensor;
      const cIn = args.slice(1, 1 + consts.length) as tf.Tensor[];
      const save = args[args.length - 1] as tf.GradSaveFunc;
      save([xIn, ...cIn]);
      return {
        value: block(xIn, i, unpack(cIn)),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const xS = saved[0] as tf.Tensor;
          const cS = unpack(saved.slice(1));
          // The parameters are the very tensors the block reads, so tf.grads differentiates
          // with respect to them.
          const vjp = tf.grads((...ins: tf.Tensor[]) =>
            tf.sum(tf.mul(block(ins[0] as tf.Tensor, i, cS), dy)),
          );
          // tfjs-core 4.22's engine.gradients, run inside the outer backward pass (gradient depth
          // 0), replaces the engine's active tape and sets it to null when done, which the outer
          // call then dereferences to free its saved tensors: keep the outer tape and put it back.
          const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
          const outerTape = state.activeTape;
          let dx: tf.Tensor | undefined;
          let dParams: tf.Tensor[];
          try {
            [dx, ...dParams] = vjp([xS, ...params]);
          } finally {
            state.activeTape = outerTape;
          }
          return [dx as tf.Tensor, ...saved.slice(1).map((t) => tf.zerosLike(t)), ...dParams];
        },
      };
    };
    return tf.customGrad(fn)(x, ...consts, ...params);
  }

  /**
   * The head parameter itself: `lm_head.weight [D, V]`, or for tied heads `embed.weight [V, D]`
   * (`transposed: true`), without the copy {@link Decoder.headWeight} makes.
   */
  headParameter(): { weight: tf.Tensor2D; transposed: boolean } {
    return this.config.tieEmbeddings
      ? { weight: this.param('embed.weight') as tf.Tensor2D, transposed: true }
      : { weight: this.param('lm_head.weight') as tf.Tensor2D, transposed: false };
  }

  /** Output projection `[D, V]`: `lm_head.weight`, or `embed.weightᵀ` for tied heads. */
  headWeight(): tf.Tensor2D {
    return (
      this.config.tieEmbeddings
        ? tf.transpose(this.param('embed.weight'))
        : this.param('lm_head.weight')
    ) as tf.Tensor2D;
  }

  /** `hidden [M, D] → logits [M, V]` with a head weight from {@link Decoder.headWeight}. */
  logits(hidden: tf.Tensor, head: tf.Tensor2D, differentiable = true): tf.Tensor2D {
    return differentiable ? this.ops.mm(hidden, head) : tf.matMul(hidden as tf.Tensor2D, head);
  }

  /**
   * One decoding step for every row (plain kernels, no gradient): `ids [B]` at `positions` (per
   * row). Appends to `cache` (consumed; the returned cache replaces it) and returns
   * `logits [B, V]` (caller owns both).
   */
  decodeStep({
    ids,
    positions,
    cache,
    head,
    weights3d,
  }: {
    ids: tf.Tensor1D;
    positions: readonly number[];
    cache: KvCache;
    head: tf.Tensor2D;
    /** Per-call cache of `[1, K, M]` weight views (see `decodeBlocks`); the caller disposes it. */
    weights3d: Map<tf.Tensor, tf.Tensor>;
  }): { logits: tf.Tensor2D; cache: KvCache } {
    const cfg = this.config;
    const k = decodeBlocks(weights3d);
    const B = ids.shape[0];
    const layers: LayerKv[] = [];
    const inPlace = cache.inPlace === true;
    let keyBias: tf.Tensor2D;
    if (inPlace) {
      // Unmask slot `length` for every row, in place ([B, T]: one value per row and position).
      tf.tidy(() => writePosition(cache.keyBias, tf.zeros([B]), cache.length));
      keyBias = cache.keyBias;
    } else {
      keyBias = tf.tidy(() => tf.concat([cache.keyBias, tf.zeros([B, 1])], 1) as tf.Tensor2D);
      cache.keyBias.dispose();
    }
    const logits = tf.tidy(() => {
      const rope = this.rope(positions);
      let x = this.embed(k, ids, B, 1, positions);
      for (let i = 0; i < cfg.nLayers; i++) {
        const p = `layers.${i}.`;
        const { q, k: kNew, v } = this.qkv(k, this.norm(k, x, `${p}norm1`), p, rope);
        const old = cache.layers[i];
        if (old === undefined) throw new Error(`decodeStep: cache has no layer ${i}`);
        let layer: LayerKv;
        if (inPlace) {
          writePosition(old.k, kNew, cache.length);
          writePosition(old.v, v, cache.length);
          layer = old;
        } else {
          layer = appendLayerKv(old, kNew, v);
          tf.keep(layer.k);
          tf.keep(layer.v);
        }
        layers.push(layer);
        const o = decodeAttention({ q, cache: layer, keyBias, nHeads: cfg.nHeads });
        x = tf.add(x, this.attnOut(k, o, p));
        x = tf.add(x, this.mlp(k, this.norm(k, x, `${p}norm2`), p));
      }
      return tf.reshape(k.mm(this.norm(k, x, 'final_norm'), head), [
        B,
        cfg.vocabSize,
      ]) as tf.Tensor2D;
    });
    return {
      logits,
      cache: { layers, keyBias, length: cache.length + 1, ...(inPlace ? { inPlace } : {}) },
    };
  }
}

/** Additive key bias `[B, T]` hiding the first `pad[b]` keys of each row. */
export function leftPadKeyBias(pad: readonly number[], length: number): tf.Tensor2D {
  const values = new Float32Array(pad.length * length);
  pad.forEach((n, b) => values.fill(MASK_BIAS, b * length, b * length + n));
  return tf.tensor2d(values, [pad.length, length]);
}
