/**
 * AdamW with decoupled weight decay, as PyTorch's `torch.optim.AdamW` (Loshchilov & Hutter 2019,
 * arXiv:1711.05101, Algorithm 2; Kingma & Ba 2015, arXiv:1412.6980).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, runFusedMany } from '../fused.js';

/** Hyper-parameters of {@link createAdamW}. */
export interface AdamWOptions {
  /** Default learning rate (a step may override it, e.g. from {@link lrAt}). */
  readonly lr: number;
  /**
   * β₁, default 0.9 (PyTorch default; the method spec's references use (0.9, 0.95), so pass
   * `beta2: 0.95` to match them).
   */
  readonly beta1?: number;
  /** β₂, default 0.999 (PyTorch default). The RL references in `spec/methods.md` use 0.95. */
  readonly beta2?: number;
  /** ε added to `sqrt(v̂)`, default 1e-8. */
  readonly epsilon?: number;
  /** Decoupled weight decay λ, default 0. */
  readonly weightDecay?: number;
}

/** Optimizer state for checkpoints: step count and first/second moments by `m/<name>`, `v/<name>`. */
export interface AdamWState {
  readonly step: number;
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
}

/** Variables by canonical name (a model's `variables()` map or a record). */
export type NamedVariables =
  ReadonlyMap<string, tf.Variable> | Readonly<Record<string, tf.Variable>>;

export interface AdamW {
  /** Number of steps taken (t of the bias corrections). */
  readonly stepCount: number;
  /**
   * One update of every variable that has a gradient in `grads` (others are untouched, as PyTorch
   * skips parameters without `.grad`). Does not dispose `grads`.
   * @throws Error naming a gradient without a variable or with the wrong shape.
   */
  step(
    grads: Readonly<Record<string, tf.Tensor>>,
    variables: NamedVariables,
    options?: { lr?: number },
  ): void;
  /** Copies of the moments and the step count (the caller owns the tensors). */
  getState(): AdamWState;
  /** Restore a state from {@link AdamW.getState} (tensors are copied). */
  setState(state: AdamWState): void;
  /** Free the moment tensors. */
  dispose(): void;
}

/**
 * Whether weight decay applies to a parameter: not to biases (`*.bias`) nor to norm gains
 * (names containing `norm`: `norm1`, `norm2`, `final_norm`), as in nanoGPT / HF's
 * `no_decay = ['bias', 'LayerNorm.weight']`. Embeddings and the head are decayed.
 */
export function decaysWeight(name: string): boolean {
  return !name.endsWith('.bias') && !name.includes('norm');
}

function lookup(variables: NamedVariables, name: string): tf.Variable | undefined {
  return variables instanceof Map
    ? variables.get(name)
    : (variables as Record<string, tf.Variable>)[name];
}

/**
 * Create an AdamW optimizer. Per parameter `p` with gradient `g` at step `t`:
 * `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p·(1 − lr·λ)` (if {@link decaysWeight}),
 * `p ← p − lr·m̂/(sqrt(v̂) + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`, computed in the equivalent
 * fused form `p − (lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ))·m/(sqrt(v) + ε·sqrt(1−β₂ᵗ))` (fewer kernels, same
 * value up to rounding). Moments start at zero (lazily, on a parameter's first gradient).
 * When the current backend registers the fused `CovrlAdamW` kernel (see `fused.ts`; the wasm one
 * of `@covrl/tfjs-wasm-blas`), each parameter's update is that one kernel instead of 13, with
 * bit-identical results.
 * @throws Error naming the bad option.
 */
export function createAdamW(options: AdamWOptions): AdamW {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const weightDecay = options.weightDecay ?? 0;
  const check = (name: string, v: number, ok: boolean): void => {
    if (!ok || !Number.isFinite(v)) throw new Error(`createAdamW: ${name} out of range, got ${v}`);
  };
  check('lr', options.lr, options.lr >= 0);
  check('beta1', beta1, beta1 >= 0 && beta1 < 1);
  check('beta2', beta2, beta2 >= 0 && beta2 < 1);
  check('epsilon', epsilon, epsilon >= 0);
  check('weightDecay', weightDecay, weightDecay >= 0);
  const m = new Map<string, tf.Tensor>();
  const v = new Map<string, tf.Tensor>();
  let t = 0;
  return {
    get stepCount() {
      return t;
    },
    step(grads, variables, stepOptions) {
      const lr = stepOptions?.lr ?? options.lr;
      if (!(lr >= 0) || !Number.isFinite(lr))
        throw new Error(`AdamW.step: lr must be ≥ 0, got ${lr}`);
      for (const [name, g] of Object.entries(grads)) {
        const p = lookup(variables, name);
        if (p === undefined)
          throw new Error(`AdamW.step: grads['${name}'] has no variable of that name`);
        if (p.shape.length !== g.shape.length || p.shape.some((d, i) => d !== g.shape[i])) {
          throw new Error(
            `AdamW.step: grads['${name}'] has shape [${g.shape.join(', ')}], variable has [${p.shape.join(', ')}]`,
          );
        }
      }
      t += 1;
      const bc1 = 1 - Math.pow(beta1, t);
      const sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, t));
      const stepSize = (lr * sqrtBc2) / bc1;
      const epsHat = epsilon * sqrtBc2;
      const fused = hasFusedKernel('CovrlAdamW');
      for (const [name, g] of Object.entries(grads)) {
        const p = lookup(variables, name) as tf.Variable;
        const decay = weightDecay > 0 && decaysWeight(name);
        if (fused && p.dtype === 'float32' && g.dtype === 'float32') {
          // One kernel for the whole update (bit-identical to the ops below, which take 13).
          // Zero moments stand for "no moment yet": β·0 + (1−β)·g is exactly (1−β)·g.
          const [pNew, mNew, vNew] = tf.tidy(() =>
            runFusedMany(
              'CovrlAdamW',
              {
                param: p,
                grad: g,
                m: m.get(name) ?? tf.zerosLike(p),
                v: v.get(name) ?? tf.zerosLike(p),
              },
              {
                beta1,
                beta2,
                stepSize,
                epsHat,
                decay: 1 - lr * weightDecay,
                applyDecay: decay,
              },
            ),
          ) as [tf.Tensor, tf.Tensor, tf.Tensor];
          p.assign(pNew);
          pNew.dispose();
          m.get(name)?.dispose();
          v.get(name)?.dispose();
          m.set(name, mNew);
          v.set(name, vNew);
          continue;
        }
        const [mNew, vNew] = tf.tidy(() => {
          const m0 = m.get(name);
          const v0 = v.get(name);
          const m1 =
            m0 === undefined
              ? tf.mul(g, 1 - beta1)
              : tf.add(tf.mul(m0, beta1), tf.mul(g, 1 - beta1));
          const g2 = tf.mul(g, g);
          const v1 =
            v0 === undefined
              ? tf.mul(g2, 1 - beta2)
              : tf.add(tf.mul(v0, beta2), tf.mul(g2, 1 - beta2));
          const base = decay ? tf.mul(p, 1 - lr * weightDecay) : p;
          p.assign(tf.sub(base, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), epsHat)), stepSize)));
          return [m1, v1];
        });
        m.get(name)?.dispose();
        v.get(name)?.dispose();
        m.set(name, mNew as tf.Tensor);
        v.set(name, vNew as tf.Tensor);
      }
    },
    getState() {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, x] of m) tensors[`m/${name}`] = tf.clone(x);
      for (const [name, x] of v) tensors[`v/${name}`] = tf.clone(x);
      return { step: t, tensors };
    },
    setState(state) {
      if (!Number.isInteger(state.step) || state.step < 0) {
        throw new Error(`AdamW.setState: step must be an integer ≥ 0, got ${state.step}`);
      }
      for (const key of Object.keys(state.tensors)) {
        if (!key.startsWith('m/') && !key.startsWith('v/')) {
          throw new Error(
            `AdamW.setState: tensors['${key}'] must be named 'm/<param>' or 'v/<param>'`,
          );
        }
      }
      tf.dispose([...m.values(), ...v.values()]);
      m.clear();
      v.clear();
      for (const [key, x] of Object.entries(state.tensors)) {
        (key.startsWith('m/') ? m : v).set(key.slice(2), tf.clone(x));
      }
      t = state.step;
    },
    dispose() {
      tf.dispose([...m.values(), ...v.values()]);
      m.clear();
      v.clear();
    },
  };
}
