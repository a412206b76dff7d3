/**
 * RLPR's optional loss terms over a response (methods.md §6 and §7b): the full-vocabulary
 * entropy of the policy at each response token (the entropy bonus), and the mask that keeps the
 * gradient on the reasoning tokens only.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '@covrl/models';
import type { ExampleContexts, ResponseRollout } from '@covrl/sampler';

/**
 * Per-token entropy of the policy at every sampled response token (FULL-SAMPLE context, logits
 * divided by τ as in sampling): `H[b, t] = −Σ_v π(v | x, o_<t) log π(v | x, o_<t)` over the whole
 * vocabulary, read from the logits at position `P_b + t − 1` (`P_b` = prompt length), shape
 * `[B, T]`, `T = max_b |o_b|`, 0 at padding. Differentiable (RLPR's entropy bonus, methods.md §6).
 *
 * One extra forward over the right-padded rows (padding never reaches earlier positions under the
 * causal mask). The `[B, L] → [B, T]` gather is a batched matmul with a one-hot selection, whose
 * gradient needs no scatter kernel; the loop it replaces is
 * `for b, t < |o_b|: out[b][t] = H[b][P_b + t − 1]`.
 */
export function responseEntropy(
  model: Pick<CausalLM, 'logits'>,
  args: {
    readonly rollouts: readonly Pick<ResponseRollout, 'exampleIndex' | 'responseIds'>[];
    readonly contexts: readonly ExampleContexts[];
    readonly temperature: number;
  },
): tf.Tensor2D {
  const { rollouts, contexts, temperature } = args;
  if (rollouts.length === 0) throw new Error('responseEntropy: rollouts must not be empty');
  if (!(temperature > 0)) throw new Error('responseEntropy: temperature must be > 0');
  const prefixes = rollouts.map((r) => {
    const c = contexts[r.exampleIndex];
    if (c === undefined) throw new Error(`responseEntropy: no context ${r.exampleIndex}`);
    return c.priorPrefix;
  });
  const seqs = rollouts.map((r, b) => [...(prefixes[b] as readonly number[]), ...r.responseIds]);
  const B = rollouts.length;
  const L = Math.max(...seqs.map((x) => x.length));
  const T = Math.max(...rollouts.map((r) => r.responseIds.length));
  if (T === 0) return tf.zeros([B, 0]);
  const select = new Float32Array(B * L * T);
  rollouts.forEach((r, b) => {
    const P = (prefixes[b] as readonly number[]).length;
    for (let t = 0; t < r.responseIds.length; t++) select[(b * L + P + t - 1) * T + t] = 1;
  });
  return tf.tidy(() => {
    const ids = seqs.map((x) => [...x, ...new Array<number>(L - x.length).fill(0)]);
    const logits = model.logits({ ids }); // [B, L, V]
    const logp = tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
    const H = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)); // [B, L]
    const picked = tf.matMul(tf.expandDims(H, 1), tf.tensor3d(select, [B, L, T])); // [B, 1, T]
    return tf.reshape(picked, [B, T]) as tf.Tensor2D;
  });
}

/**
 * `mask` `[B, T]` with every position from the end of the model's own `</think>` on set to 0:
 * the gradient reaches the reasoning tokens only (spec §7b option `rlpr.traceOnlyGradient`).
 */
export function traceOnlyMask(
  mask: tf.Tensor2D,
  rollouts: readonly ResponseRollout[],
  contexts: readonly ExampleContexts[],
): tf.Tensor2D {
  const T = mask.shape[1];
  const lens = rollouts.map((r) => traceLength(r, contexts[r.exampleIndex] as ExampleContexts));
  const keep = tf.less(
    tf.range(0, T, 1, 'int32').expandDims(0),
    tf.tensor1d(lens, 'int32').expandDims(1),
  );
  return tf.mul(mask, tf.cast(keep, 'float32'));
}

/** Index just after the model's own `</think>` in its response ids (the whole row if absent). */
function traceLength(r: ResponseRollout, ctx: ExampleContexts): number {
  const close = ctx.thinkClose;
  const ids = r.responseIds;
  outer: for (let i = 0; i + close.length <= ids.length; i++) {
    for (let j = 0; j < close.length; j++) if (ids[i + j] !== close[j]) continue outer;
    return i + close.length;
  }
  return ids.length;
}
