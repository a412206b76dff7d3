import * as tf from '@tensorflow/tfjs-core';
import type { TensorContainer } from '@tensorflow/tfjs-core';

/** One row of {@link profileKernels}: a kernel name and its summed time. */
export interface KernelTime {
  readonly kernelName: string;
  /** Sum over calls of the backend's kernel time (wall clock of the kernel on wasm and cpu). */
  readonly totalMs: number;
  readonly calls: number;
}

/**
 * Runs `fn` once under `tf.profile` and lists kernels by total time, largest first (a dev
 * utility: which kernels a training step spends its time in). Tensors that `fn` returns are
 * disposed; those it leaks stay leaked (profile does not tidy).
 *
 * @param fn - the work to profile; may be async.
 * @param top - how many kernels to list, default 15.
 * @param includeScopes - also list entries that are not kernels of the current backend
 *   (`tf.customGrad` scopes, op wrappers), whose time includes the kernels inside them; default
 *   false, so the listed times do not count anything twice.
 */
export async function profileKernels({
  fn,
  top = 15,
  includeScopes = false,
}: {
  readonly fn: () => TensorContainer | Promise<TensorContainer>;
  readonly top?: number;
  readonly includeScopes?: boolean;
}): Promise<KernelTime[]> {
  if (!(Number.isInteger(top) && top > 0)) {
    throw new Error(`profileKernels: top must be a positive integer, got ${top}`);
  }
  const backendName = tf.getBackend();
  const info = await tf.profile(fn);
  tf.dispose(info.result);
  const totals = new Map<string, { totalMs: number; calls: number }>();
  for (const kernel of info.kernels) {
    // Entries that are not kernels of the backend (customGrad 'unnamed scope', op wrappers such
    // as 'fusedMatMul__op') time the kernels inside them again: skip them unless asked.
    const isKernel = (tf.getKernel(kernel.name, backendName) as unknown) !== undefined;
    if (!isKernel && !includeScopes) continue;
    const time = await kernel.kernelTimeMs;
    const ms = typeof time === 'number' ? time : 0;
    const entry = totals.get(kernel.name) ?? { totalMs: 0, calls: 0 };
    entry.totalMs += ms;
    entry.calls += 1;
    totals.set(kernel.name, entry);
  }
  return [...totals.entries()]
    .map(([kernelName, { totalMs, calls }]) => ({ kernelName, totalMs, calls }))
    .sort((x, y) => y.totalMs - x.totalMs)
    .slice(0, top);
}
