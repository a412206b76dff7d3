import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { disableWasmFusedKernels, enableWasmFusedKernels } from '@covrl/tfjs-wasm-blas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOps, hasFastScatter } from './layers.js';
import { withWasmCustomGradSaves } from './testing/index.js';

// The embedding look-up of a large table (`Ops.gatherRows`, used above ONE_HOT_MAX_ROWS rows) takes
// its gradient from the UnsortedSegmentSum kernel where the backend has a fast one (wasm with
// @covrl/tfjs-wasm-blas's fused kernels), else from the one-hot product. Both must give the same
// gradient: bit for bit on wasm (under 256 ids the GEMM sums the one-hot product's K axis in id
// order, as the scatter-add does), to float32 rounding on cpu.

const ROWS = 700;
const D = 20;
const ids = Array.from({ length: 150 }, (_, i) => (i % 11 === 0 ? 5 : (i * 389) % ROWS));

function uniform(seed: number, n: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** dL/dtable of L = Σ w ⊙ gatherRows(table, ids), through the model's op and as the one-hot product. */
function gradients(): { model: Float32Array; oneHot: Float32Array } {
  return tf.tidy(() => {
    const table = tf.tensor2d(uniform(1, ROWS * D), [ROWS, D]);
    const idx = tf.tensor1d(ids, 'int32');
    const w = tf.tensor2d(uniform(2, ids.length * D), [ids.length, D]);
    const ops = createOps('flags');
    const model = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.gatherRows(t, idx), w)))(table);
    const oneHot = tf.matMul(tf.oneHot(idx, ROWS), w, true, false);
    return {
      model: model.dataSync() as Float32Array,
      oneHot: oneHot.dataSync() as Float32Array,
    };
  });
}

let previous: string;
beforeAll(() => {
  previous = tf.getBackend();
});
afterAll(async () => {
  disableWasmFusedKernels();
  await tf.setBackend(previous);
});

describe('embedding gradient of gatherRows', () => {
  it('wasm with the fused kernels: scatter-add, equal to the one-hot product bit for bit', async () => {
    await tf.setBackend('wasm');
    expect(enableWasmFusedKernels().active).toBe(true);
    expect(hasFastScatter()).toBe(true);
    const { model, oneHot } = gradients();
    expect(Array.from(model)).toEqual(Array.from(oneHot));
  });

  it('stock wasm has no scatter kernel: the one-hot path, same values', async () => {
    await tf.setBackend('wasm');
    const withKernel = gradients().model;
    disableWasmFusedKernels();
    try {
      expect(hasFastScatter()).toBe(false);
      // The stock wasm Identity copies what customGrad saves, which the IS_TEST leak check misreads.
      const { model } = await withWasmCustomGradSaves(gradients);
      model.forEach((v, i) => expect(Math.abs(v - withKernel[i]!)).toBeLessThanOrEqual(1e-6));
    } finally {
      enableWasmFusedKernels();
    }
  });

  it('cpu: the one-hot path agrees with cpu UnsortedSegmentSum and with wasm to float32 rounding', async () => {
    await tf.setBackend('wasm');
    const onWasm = gradients().model;
    await tf.setBackend('cpu');
    expect(hasFastScatter()).toBe(false);
    const { model, oneHot } = gradients();
    const scatter = tf.tidy(
      () =>
        tf
          .unsortedSegmentSum(
            tf.tensor2d(uniform(2, ids.length * D), [ids.length, D]),
            tf.tensor1d(ids, 'int32'),
            ROWS,
          )
          .dataSync() as Float32Array,
    );
    for (const got of [model, oneHot, onWasm]) {
      got.forEach((v, i) =>
        expect(Math.abs(v - scatter[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))),
      );
    }
  });
});
