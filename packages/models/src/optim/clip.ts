import * as tf from '@tensorflow/tfjs-core';

/**
 * Scale gradients so their global L2 norm is at most `maxNorm`, as PyTorch's
 * `clip_grad_norm_`: `norm = sqrt(Σ_i ||g_i||²)`, `coef = min(1, maxNorm/(norm + 1e-6))`
 * (the 1e-6 guards a zero norm), `g_i ← coef·g_i`. One host read (the norm).
 * If the norm is not finite the gradients are returned unscaled (copies) and `norm` reports it,
 * so the caller can skip the step.
 * @returns new gradient tensors (the caller owns them; the inputs are not disposed) and the
 *   pre-clipping norm.
 */
export function clipByGlobalNorm(
  grads: Readonly<Record<string, tf.Tensor>>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: number } {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const entries = Object.entries(grads);
  if (entries.length === 0) return { grads: {}, norm: 0 };
  const normT = tf.tidy(() => tf.sqrt(tf.addN(entries.map(([, g]) => tf.sum(tf.mul(g, g))))));
  const norm = normT.dataSync()[0] ?? NaN;
  normT.dispose();
  const coef = Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const out: Record<string, tf.Tensor> = {};
  for (const [name, g] of entries)
    out[name] = coef === 1 ? tf.clone(g) : tf.tidy(() => tf.mul(g, coef));
  return { grads: out, norm };
}
