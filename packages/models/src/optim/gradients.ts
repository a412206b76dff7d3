import * as tf from '@tensorflow/tfjs-core';

/** Anything that exposes its trainable variables by canonical name (a `CausalLM`). */
export interface HasVariables {
  variables(): ReadonlyMap<string, tf.Variable>;
  /** When present, the variables to differentiate (a `CausalLM` with LoRA: its adapters). */
  trainableVariables?(): ReadonlyMap<string, tf.Variable>;
}

/**
 * Loss and gradients of every trainable variable of `model` that the loss depends on, keyed by
 * name: `tf.variableGrads(lossFn, [...vars.values()])` with `vars = model.trainableVariables()`
 * when the model has it (a `CausalLM` with LoRA: only the adapters, so the frozen base costs no
 * gradient memory), else `model.variables()`; re-keyed from the engine's unique variable names. `lossFn` must return a scalar; every tensor it creates is freed.
 * @returns the loss as a number (one host read) and gradients the caller owns and disposes.
 */
export function computeGradients(
  model: HasVariables,
  lossFn: () => tf.Scalar,
): { loss: number; grads: Record<string, tf.Tensor> } {
  const named = model.trainableVariables?.() ?? model.variables();
  const { value, grads } = tf.variableGrads(() => {
    const loss = lossFn();
    if (loss.rank !== 0)
      throw new Error(
        `computeGradients: lossFn must return a scalar, got shape [${loss.shape.join(', ')}]`,
      );
    return loss;
  }, [...named.values()]);
  const loss = value.dataSync()[0] ?? NaN;
  value.dispose();
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of named) {
    const g = grads[v.name];
    if (g !== undefined) out[name] = g;
  }
  return { loss, grads: out };
}
