/**
 * Low-rank adapters (LoRA, Hu et al. 2021, arXiv:2106.09685) on the attention and MLP projections
 * of a `CausalLM`, with PEFT's configuration fields and tensor names.
 *
 * For a projection `y = x·W (+ b)` (canonical `W [in, out]`) the adapted projection is
 * `y = x·W (+ b) + s·(drop(x)·A)·B` with `A [in, r]`, `B [r, out]` and `s = lora_alpha / r`
 * (`lora_alpha / √r` with `use_rslora`, Kalajdzievski 2023, arXiv:2312.03732). PEFT stores
 * `lora_A.weight = Aᵀ [r, in]` and `lora_B.weight = Bᵀ [out, r]`; the conversions here transpose.
 *
 * Initialisation as PEFT's `init_lora_weights=True`: `B = 0` (so a fresh adapter changes no
 * logit) and `lora_A.weight` from `nn.init.kaiming_uniform_(a=√5)`, i.e. uniform on
 * `±gain·√(3/fan_in)` with `gain = √(2/(1+a²)) = √(1/3)`: `U(−1/√in, 1/√in)` (seeded here by
 * `createRng`, so the values are reproducible but not PyTorch's stream).
 *
 * Module names are those of transformers' causal-LM classes, which PEFT matches against
 * `target_modules`:
 *
 * | family | module | canonical weights |
 * |---|---|---|
 * | llama, qwen2, qwen3 | `model.layers.{i}.self_attn.{q,k,v,o}_proj` | `layers.{i}.attn.{q,k,v,o}.weight` |
 * | llama, qwen2, qwen3 | `model.layers.{i}.mlp.{gate,up,down}_proj` | `layers.{i}.mlp.{gate,up,down}.weight` |
 * | gpt2 | `transformer.h.{i}.attn.c_attn` | `layers.{i}.attn.{q,k,v}.weight` (one A, B split by columns) |
 * | gpt2 | `transformer.h.{i}.attn.c_proj` / `mlp.c_fc` / `mlp.c_proj` | `attn.o` / `mlp.up` / `mlp.down` |
 *
 * Embeddings and the output head are never adapted (PEFT's `all-linear` excludes the head too).
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs-core';
import { headDimOf } from './config.js';
import type { ModelConfig } from './config.js';
import type { FloatTensorEntry } from './formats/hf-weights.js';
import type { LowRankTerm } from './gpt.js';
import { createRng } from './rng.js';

/** A LoRA configuration: PEFT's `LoraConfig` fields that this implementation supports. */
export interface LoraConfig {
  /** Rank `r` (PEFT `r`), a positive integer. */
  readonly r: number;
  /** PEFT `lora_alpha`; the scale is `loraAlpha / r` (or `/ √r` with `useRslora`). */
  readonly loraAlpha: number;
  /**
   * PEFT `lora_dropout` in `[0, 1)`: dropout on the adapter's input only. Applied only while
   * {@link LoraAdapters.setDropout} has set a seed (deterministic per seed); off otherwise, so
   * scoring, generation and KL references never see it. Default 0.
   */
  readonly loraDropout?: number;
  /**
   * PEFT `target_modules`: a list of module-name suffixes (`'q_proj'` matches
   * `model.layers.3.self_attn.q_proj`), a regular expression matched against the whole module
   * name, or `'all-linear'` (every projection of the table above).
   */
  readonly targetModules: readonly string[] | string;
  /** PEFT `use_rslora`: scale `loraAlpha / √r`. Default false. */
  readonly useRslora?: boolean;
}

/** One adaptable projection of a model. */
export interface LoraModule {
  /** transformers module name, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly module: string;
  /** Input width (rows of `A`). */
  readonly inDim: number;
  /** Canonical weights whose columns the module's output covers, in order, with their widths. */
  readonly outputs: readonly { readonly weight: string; readonly width: number }[];
}

/** Every projection of `config` that LoRA can adapt, layer by layer (see the table above). */
export function loraModules(config: ModelConfig): LoraModule[] {
  const D = config.dModel;
  const F = config.dFf;
  const out: LoraModule[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const l = `layers.${i}`;
    if (config.family === 'gpt2') {
      const h = `transformer.h.${i}`;
      out.push(
        {
          module: `${h}.attn.c_attn`,
          inDim: D,
          outputs: ['q', 'k', 'v'].map((p) => ({ weight: `${l}.attn.${p}.weight`, width: D })),
        },
        {
          module: `${h}.attn.c_proj`,
          inDim: D,
          outputs: [{ weight: `${l}.attn.o.weight`, width: D }],
        },
        {
          module: `${h}.mlp.c_fc`,
          inDim: D,
          outputs: [{ weight: `${l}.mlp.up.weight`, width: F }],
        },
        {
          module: `${h}.mlp.c_proj`,
          inDim: F,
          outputs: [{ weight: `${l}.mlp.down.weight`, width: D }],
        },
      );
      continue;
    }
    const hd = headDimOf(config);
    const Q = config.nHeads * hd;
    const KV = config.nKvHeads * hd;
    const h = `model.layers.${i}`;
    const one = (module: string, weight: string, inDim: number, width: number): LoraModule => ({
      module,
      inDim,
      outputs: [{ weight, width }],
    });
    out.push(
      one(`${h}.self_attn.q_proj`, `${l}.attn.q.weight`, D, Q),
      one(`${h}.self_attn.k_proj`, `${l}.attn.k.weight`, D, KV),
      one(`${h}.self_attn.v_proj`, `${l}.attn.v.weight`, D, KV),
      one(`${h}.self_attn.o_proj`, `${l}.attn.o.weight`, Q, D),
      one(`${h}.mlp.gate_proj`, `${l}.mlp.gate.weight`, D, F),
      one(`${h}.mlp.up_proj`, `${l}.mlp.up.weight`, D, F),
      one(`${h}.mlp.down_proj`, `${l}.mlp.down.weight`, F, D),
    );
  }
  return out;
}

/**
 * The modules of `config` that `targetModules` selects, with PEFT's matching rules
 * (`check_target_module_exists`): a string is `'all-linear'` or a regular expression that must
 * match the WHOLE module name; a list entry matches a module whose name equals it or ends with
 * `.` + it.
 * @throws Error naming `targetModules` when a list entry matches no adaptable module (for
 *   example `lm_head` or `embed_tokens`, which are not supported), or nothing is selected.
 */
export function selectLoraModules(
  config: ModelConfig,
  targetModules: LoraConfig['targetModules'],
): LoraModule[] {
  const all = loraModules(config);
  const names = [...new Set(all.map((m) => m.module.replace(/^.*\./, '')))].join(', ');
  let chosen: LoraModule[];
  if (typeof targetModules === 'string') {
    if (targetModules === 'all-linear') {
      chosen = all;
    } else {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${targetModules})$`);
      } catch (error) {
        throw new Error(
          `LoraConfig.targetModules: '${targetModules}' is not a valid regular expression: ${(error as Error).message}`,
        );
      }
      chosen = all.filter((m) => re.test(m.module));
    }
  } else {
    if (!Array.isArray(targetModules) || targetModules.length === 0) {
      throw new Error(
        `LoraConfig.targetModules: must be a non-empty list of module names, a regular expression or 'all-linear'; adaptable modules: ${names}`,
      );
    }
    const matches = (m: LoraModule, t: string): boolean =>
      m.module === t || m.module.endsWith(`.${t}`);
    for (const t of targetModules) {
      if (typeof t !== 'string' || !all.some((m) => matches(m, t))) {
        throw new Error(
          `LoraConfig.targetModules: '${String(t)}' matches no adaptable ${config.family} module; adaptable modules: ${names} (embeddings and lm_head are not supported)`,
        );
      }
    }
    chosen = all.filter((m) => targetModules.some((t) => matches(m, t)));
  }
  if (chosen.length === 0) {
    throw new Error(
      `LoraConfig.targetModules: ${JSON.stringify(targetModules)} selects no module; adaptable modules: ${names}`,
    );
  }
  return chosen;
}

/**
 * Check a {@link LoraConfig} and return it frozen with defaults filled in.
 * @throws Error naming the `LoraConfig.<field>` and the accepted values.
 */
export function validateLoraConfig(config: LoraConfig): Required<LoraConfig> {
  const fail = (field: string, why: string): never => {
    throw new Error(`LoraConfig.${field}: ${why}`);
  };
  if (!Number.isInteger(config.r) || config.r < 1) {
    fail('r', `must be a positive integer, got ${String(config.r)}`);
  }
  if (!(typeof config.loraAlpha === 'number' && Number.isFinite(config.loraAlpha))) {
    fail('loraAlpha', `must be a finite number, got ${String(config.loraAlpha)}`);
  }
  const dropout = config.loraDropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) {
    fail('loraDropout', `must be in [0, 1), got ${String(dropout)}`);
  }
  const rs = config.useRslora ?? false;
  if (typeof rs !== 'boolean') fail('useRslora', `must be a boolean, got ${String(rs)}`);
  return Object.freeze({
    r: config.r,
    loraAlpha: config.loraAlpha,
    loraDropout: dropout,
    targetModules: config.targetModules,
    useRslora: rs,
  });
}

/** The scale `s` of the adapter term: `loraAlpha / r`, or `loraAlpha / √r` with `useRslora`. */
export function loraScale(config: LoraConfig): number {
  return config.useRslora === true
    ? config.loraAlpha / Math.sqrt(config.r)
    : config.loraAlpha / config.r;
}

/** The PEFT tensor-name prefix of a causal-LM adapter (`PeftModelForCausalLM.base_model.model`). */
export const PEFT_PREFIX = 'base_model.model.';

interface Adapter {
  readonly module: LoraModule;
  readonly a: tf.Variable;
  /** One `B` slice per canonical output (three for GPT-2's fused `c_attn`). */
  readonly b: readonly tf.Variable[];
}

let adapterCounter = 0;

/**
 * The adapters of one model: variables `A [in, r]` and `B [r, out]` per selected module, named
 * `lora:<module>.A` and `lora:<module>.B` (GPT-2's `c_attn`: `lora:<module>.B.q`, `.B.k`, `.B.v`,
 * the column blocks of one PEFT `lora_B`). Created by `CausalLM.addLora`.
 */
export class LoraAdapters {
  readonly config: Required<LoraConfig>;
  /** `s` of the adapter term (see {@link loraScale}). */
  readonly scale: number;
  /** The adapted modules, in model order. */
  readonly modules: readonly LoraModule[];
  private readonly adapters: Adapter[] = [];
  private readonly byWeight = new Map<string, { a: tf.Variable; b: tf.Variable }>();
  private readonly vars = new Map<string, tf.Variable>();
  private dropoutSeed: number | undefined;
  private dropoutCalls = 0;
  private disposed = false;
  /** Whether the adapter terms are added (see `CausalLM.setAdaptersEnabled`). */
  enabled = true;

  /**
   * @param modelConfig - the base model's config.
   * @param config - the LoRA config (validated).
   * @param seed - seed of the `A` initialisation.
   */
  constructor(
    readonly modelConfig: ModelConfig,
    config: LoraConfig,
    seed: number,
  ) {
    this.config = validateLoraConfig(config);
    this.scale = loraScale(this.config);
    this.modules = selectLoraModules(modelConfig, this.config.targetModules);
    const rng = createRng(seed);
    const r = this.config.r;
    const prefix = `covrl-lora${++adapterCounter}/`;
    for (const m of this.modules) {
      // PEFT's lora_A.weight [r, in] ~ U(±1/√in) row by row; stored transposed as A [in, r].
      const bound = 1 / Math.sqrt(m.inDim);
      const aT = new Float32Array(r * m.inDim);
      for (let j = 0; j < aT.length; j++) aT[j] = (2 * rng.next() - 1) * bound;
      const aName = `lora:${m.module}.A`;
      const a = tf.tidy(() =>
        tf.variable(tf.transpose(tf.tensor2d(aT, [r, m.inDim])), true, prefix + aName),
      );
      this.vars.set(aName, a);
      const fused = m.outputs.length > 1;
      const b = m.outputs.map((o) => {
        const piece = fused ? `.${o.weight.split('.').at(-2) ?? ''}` : '';
        const bName = `lora:${m.module}.B${piece}`;
        const v = tf.tidy(() => tf.variable(tf.zeros([r, o.width]), true, prefix + bName));
        this.vars.set(bName, v);
        this.byWeight.set(o.weight, { a, b: v });
        return v;
      });
      this.adapters.push({ module: m, a, b });
    }
  }

  private alive(fn: string): void {
    if (this.disposed) throw new Error(`LoraAdapters.${fn}: the adapters were disposed`);
  }

  /** The adapter variables by name (`lora:<module>.A`, `lora:<module>.B`); the only trainables. */
  variables(): ReadonlyMap<string, tf.Variable> {
    this.alive('variables');
    return this.vars;
  }

  /** Number of scalar adapter parameters. */
  get numParameters(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /**
   * Turn LoRA dropout on with a seed (masks drawn by `tf.randomUniform` with the seed
   * `seed·1 000 003 + k` for the k-th adapted projection since this call, host-generated, so the
   * same seed and the same sequence of forward passes give the same masks on every backend), or
   * off with `undefined` (the default). Dropout applies only in differentiable forward passes
   * (scoring/training), never in generation; with `loraDropout = 0` it is a no-op.
   */
  setDropout(seed: number | undefined): void {
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new Error(`LoraAdapters.setDropout: seed must be an integer, got ${String(seed)}`);
    }
    this.dropoutSeed = seed;
    this.dropoutCalls = 0;
  }

  /** The term of the canonical weight `weightName`, or `undefined` (not adapted, or disabled). */
  termFor(weightName: string, differentiable: boolean): LowRankTerm | undefined {
    if (!this.enabled || this.disposed) return undefined;
    const ab = this.byWeight.get(weightName);
    if (ab === undefined) return undefined;
    const p = this.config.loraDropout;
    const seed = this.dropoutSeed;
    if (!differentiable || seed === undefined || p === 0) {
      return { a: ab.a, b: ab.b, scale: this.scale };
    }
    const callSeed = seed * 1_000_003 + this.dropoutCalls++;
    return {
      a: ab.a,
      b: ab.b,
      scale: this.scale,
      // Inverted dropout: keep with probability 1 − p, scale kept inputs by 1/(1 − p).
      dropout: (x) => {
        const keep = tf.cast(
          tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', callSeed), p),
          'float32',
        );
        return tf.mul(x, tf.mul(keep, 1 / (1 - p)));
      },
    };
  }

  /**
   * The adapters in PEFT's `adapter_model.safetensors` naming and layout:
   * `base_model.model.<module>.lora_A.weight` `[r, in]` and `.lora_B.weight` `[out, r]`.
   * @returns host copies (one device read per variable).
   */
  toPeftTensors(): Record<string, FloatTensorEntry> {
    this.alive('toPeftTensors');
    const out: Record<string, FloatTensorEntry> = {};
    const r = this.config.r;
    for (const { module: m, a, b } of this.adapters) {
      const aT = tf.tidy(() => tf.transpose(a));
      out[`${PEFT_PREFIX}${m.module}.lora_A.weight`] = {
        shape: [r, m.inDim],
        data: aT.dataSync() as Float32Array,
      };
      aT.dispose();
      const bT = tf.tidy(() =>
        tf.transpose(b.length === 1 ? (b[0] as tf.Tensor) : tf.concat([...b], 1)),
      );
      const width = m.outputs.reduce((s, o) => s + o.width, 0);
      out[`${PEFT_PREFIX}${m.module}.lora_B.weight`] = {
        shape: [width, r],
        data: bT.dataSync() as Float32Array,
      };
      bT.dispose();
    }
    return out;
  }

  /**
   * Overwrite every adapter from PEFT-named tensors (the inverse of {@link toPeftTensors}; the
   * optional `.default` adapter-name infix of in-memory state dicts is accepted).
   * @throws Error naming the missing, mis-shaped or unexpected tensor; nothing is assigned then.
   */
  setFromPeftTensors(tensors: Readonly<Record<string, FloatTensorEntry>>, file = 'tensors'): void {
    this.alive('setFromPeftTensors');
    const byName = new Map<string, FloatTensorEntry>();
    for (const [name, t] of Object.entries(tensors)) {
      byName.set(name.replace(/\.lora_([AB])\.default\.weight$/, '.lora_$1.weight'), t);
    }
    const r = this.config.r;
    const plan: { v: tf.Variable; value: () => tf.Tensor }[] = [];
    const used = new Set<string>();
    const get = (name: string, shape: readonly number[]): FloatTensorEntry => {
      const t = byName.get(name);
      if (t === undefined) {
        throw new Error(`LoraAdapters: ${file}: missing tensor '${name}' [${shape.join(', ')}]`);
      }
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(
          `LoraAdapters: ${file}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] (r = ${r}); does adapter_config.json match?`,
        );
      }
      used.add(name);
      return t;
    };
    for (const { module: m, a, b } of this.adapters) {
      const ta = get(`${PEFT_PREFIX}${m.module}.lora_A.weight`, [r, m.inDim]);
      plan.push({ v: a, value: () => tf.transpose(tf.tensor2d(ta.data, [r, m.inDim])) });
      const width = m.outputs.reduce((s, o) => s + o.width, 0);
      const tb = get(`${PEFT_PREFIX}${m.module}.lora_B.weight`, [width, r]);
      let start = 0;
      m.outputs.forEach((o, k) => {
        const from = start;
        plan.push({
          v: b[k] as tf.Variable,
          value: () =>
            tf.transpose(tf.slice(tf.tensor2d(tb.data, [width, r]), [from, 0], [o.width, r])),
        });
        start += o.width;
      });
    }
    const extra = [...byName.keys()].filter((n) => !used.has(n));
    if (extra.length > 0) {
      throw new Error(
        `LoraAdapters: ${file}: unexpected tensors ${extra
          .slice(0, 3)
          .map((n) => `'${n}'`)
          .join(
            ', ',
          )}${extra.length > 3 ? ` and ${extra.length - 3} more` : ''}; target_modules selects ${this.modules.length} modules of this ${this.modelConfig.family} model`,
      );
    }
    for (const { v, value } of plan) tf.tidy(() => v.assign(value()));
  }

  /**
   * `W + s·A·B` for every adapted canonical weight in `weights` (the others are not returned).
   * Float32 throughout: merged logits equal adapter logits to float32 rounding.
   * @returns new tensors by canonical name (the caller owns them).
   */
  mergedDeltas(weights: ReadonlyMap<string, tf.Tensor>): Record<string, tf.Tensor> {
    this.alive('mergedDeltas');
    const out: Record<string, tf.Tensor> = {};
    for (const [name, { a, b }] of this.byWeight) {
      const w = weights.get(name);
      if (w === undefined) throw new Error(`LoraAdapters.mergedDeltas: no base weight '${name}'`);
      out[name] = tf.tidy(() => tf.add(w, tf.mul(tf.matMul(a, b), this.scale)));
    }
    return out;
  }

  /** Free every adapter variable. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    this.disposed = true;
  }
}

/**
 * PEFT's `adapter_config.json` → {@link LoraConfig}. Fields that would change the math and are not
 * implemented are refused by name: `peft_type` other than `LORA`, `bias` other than `'none'`,
 * `use_dora`, non-empty `rank_pattern` / `alpha_pattern`, `layers_to_transform`,
 * `modules_to_save`, `exclude_modules`, `target_parameters`, `trainable_token_indices`,
 * `layer_replication`, `lora_bias`. `task_type` must be `CAUSAL_LM` when given.
 * `init_lora_weights`, `fan_in_fan_out`, `inference_mode` and `base_model_name_or_path` do not
 * change the adapted function and are accepted.
 * @throws Error naming the file and the field.
 */
export function loraConfigFromPeft(json: unknown, file = 'adapter_config.json'): LoraConfig {
  const fail = (why: string): never => {
    throw new Error(`loraConfigFromPeft: ${file}: ${why}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail('must contain a JSON object');
  }
  const o = json as Record<string, unknown>;
  const unsupported = (field: string, why: string): never =>
    fail(`field '${field}' = ${JSON.stringify(o[field])} is not supported: ${why}`);
  const empty = (v: unknown): boolean =>
    v === undefined ||
    v === null ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  if (o['peft_type'] !== 'LORA') unsupported('peft_type', "only 'LORA' adapters are implemented");
  if (o['task_type'] !== undefined && o['task_type'] !== null && o['task_type'] !== 'CAUSAL_LM') {
    unsupported('task_type', "adapters attach to causal LMs ('CAUSAL_LM')");
  }
  if ((o['bias'] ?? 'none') !== 'none') unsupported('bias', "only 'none' is implemented");
  for (const [field, why] of [
    ['use_dora', 'DoRA is not implemented'],
    ['rank_pattern', 'per-module ranks are not implemented'],
    ['alpha_pattern', 'per-module alphas are not implemented'],
    ['layers_to_transform', 'every layer is adapted'],
    ['modules_to_save', 'fully trained extra modules are not implemented'],
    ['exclude_modules', 'exclusions are not implemented'],
    ['target_parameters', 'parameter targeting is not implemented'],
    ['trainable_token_indices', 'trainable token embeddings are not implemented'],
    ['layer_replication', 'layer replication is not implemented'],
    ['lora_bias', 'lora_B biases are not implemented'],
  ] as const) {
    if (!empty(o[field])) unsupported(field, why);
  }
  const r = o['r'];
  const alpha = o['lora_alpha'] ?? 8;
  const dropout = o['lora_dropout'] ?? 0;
  const targets = o['target_modules'];
  if (typeof r !== 'number')
    return fail(`field 'r' must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number') return fail(`field 'lora_alpha' must be a number`);
  if (typeof dropout !== 'number') return fail(`field 'lora_dropout' must be a number`);
  let targetModules: string | string[];
  if (typeof targets === 'string') targetModules = targets;
  else if (Array.isArray(targets) && targets.every((t) => typeof t === 'string')) {
    targetModules = targets as string[];
  } else {
    return fail(
      `field 'target_modules' must be a list of module names or a string, got ${JSON.stringify(targets)}`,
    );
  }
  const useRslora = o['use_rslora'] ?? false;
  if (typeof useRslora !== 'boolean') return fail(`field 'use_rslora' must be a boolean`);
  try {
    return validateLoraConfig({
      r,
      loraAlpha: alpha,
      loraDropout: dropout,
      targetModules,
      useRslora,
    });
  } catch (error) {
    return fail((error as Error).message);
  }
}

/**
 * {@link LoraConfig} → PEFT's `adapter_config.json` object (PEFT ≥ 0.10 field names; the fields
 * this implementation does not use are written with their neutral values so PEFT loads it).
 */
export function loraConfigToPeft(
  config: LoraConfig,
  options: {
    readonly baseModelNameOrPath?: string | null;
    readonly family?: ModelConfig['family'];
  } = {},
): Record<string, unknown> {
  const c = validateLoraConfig(config);
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
    r: c.r,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    target_modules: typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules],
    bias: 'none',
    use_rslora: c.useRslora,
    use_dora: false,
    fan_in_fan_out: options.family === 'gpt2',
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}
