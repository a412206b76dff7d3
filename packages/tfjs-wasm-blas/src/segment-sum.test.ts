import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableWasmFusedKernels, enableWasmFusedKernels } from './fused-kernels.js';
import { seededUniform } from './testing/index.js';

let previousBackend: string;
beforeAll(async () => {
  previousBackend = tf.getBackend();
  await tf.setBackend('wasm');
  expect(enableWasmFusedKernels().reason).toMatch(/UnsortedSegmentSum registered/);
});
afterAll(async () => {
  disableWasmFusedKernels();
  await tf.setBackend(previousBackend);
});

/** Left-to-right float32 sums of the rows of each segment (what the kernel documents). */
function oracle(x: Float32Array, ids: readonly number[], inner: number, segments: number) {
  const out = new Float32Array(segments * inner);
  ids.forEach((s, r) => {
    if (s < 0 || s >= segments) return;
    for (let j = 0; j < inner; j++) {
      out[s * inner + j] = Math.fround(out[s * inner + j]! + x[r * inner + j]!);
    }
  });
  return out;
}

describe('UnsortedSegmentSum on wasm', () => {
  it('sums rows per segment exactly as a left-to-right float32 sum, dropping ids out of range', () => {
    const ids = [3, 0, 3, -1, 5, 3, 6, 0, 2];
    const x = seededUniform(1, ids.length * 3 * 5, 10);
    const got = tf.tidy(() => {
      const t = tf.unsortedSegmentSum(
        tf.tensor3d(x, [ids.length, 3, 5]),
        tf.tensor1d(ids, 'int32'),
        6,
      );
      return { shape: t.shape, data: t.dataSync() as Float32Array };
    });
    expect(got.shape).toEqual([6, 3, 5]);
    expect(Array.from(got.data)).toEqual(Array.from(oracle(x, ids, 15, 6)));
  });

  it('int32 values, and no rows or no segments', () => {
    tf.tidy(() => {
      const t = tf.unsortedSegmentSum(
        tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'),
        tf.tensor1d([1, 1, 0], 'int32'),
        3,
      );
      expect(t.dtype).toBe('int32');
      expect(Array.from(t.dataSync())).toEqual([5, 6, 4, 6, 0, 0]);
      const none = tf.unsortedSegmentSum(tf.zeros([0, 4]), tf.zeros([0], 'int32'), 3);
      expect(Array.from(none.dataSync())).toEqual(new Array(12).fill(0));
      expect(tf.unsortedSegmentSum(tf.ones([2, 4]), tf.tensor1d([0, 1], 'int32'), 0).shape).toEqual(
        [0, 4],
      );
    });
  });

  it('refuses bad inputs with the kernel named', () => {
    const run = (inputs: tf.NamedTensorMap, numSegments: number) =>
      tf.tidy(() => tf.engine().runKernel('UnsortedSegmentSum', inputs, { numSegments }));
    tf.tidy(() => {
      expect(() => run({ x: tf.ones([3, 2]), segmentIds: tf.ones([3]) }, 2)).toThrow(
        /UnsortedSegmentSum: 'segmentIds' must be int32/,
      );
      expect(() => run({ x: tf.ones([3, 2]), segmentIds: tf.ones([4], 'int32') }, 2)).toThrow(
        /must be a prefix of x's shape/,
      );
      expect(() => run({ x: tf.ones([3, 2]), segmentIds: tf.ones([3], 'int32') }, 1.5)).toThrow(
        /attr 'numSegments' must be an integer/,
      );
    });
  });

  it('at V = 151 936 it touches only the gathered rows (plus the zero fill)', () => {
    const V = 151_936;
    const ids = [151_935, 7, 151_935, 0, 99_999];
    const d = 8;
    const x = seededUniform(2, ids.length * d);
    const out = tf.tidy(
      () =>
        tf
          .unsortedSegmentSum(tf.tensor2d(x, [ids.length, d]), tf.tensor1d(ids, 'int32'), V)
          .dataSync() as Float32Array,
    );
    const want = oracle(x, ids, d, V);
    expect(out.length).toBe(V * d);
    expect(Array.from(out)).toEqual(Array.from(want));
  });
});

describe('gather gradient: scatter-add against the one-hot product', () => {
  // Fewer than 256 tokens: the GEMM's one-hot product sums its K axis left to right in one block,
  // and x + 0 = x, so on wasm both gradients are the same float32 sums, bit for bit.
  const V = 1000;
  const D = 24;
  const ids = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 37 === 5 ? 3 : (i * 7919) % V));

  function gradients(): { scatter: Float32Array; oneHot: Float32Array; viaGather: Float32Array } {
    return tf.tidy(() => {
      const table = tf.tensor2d(seededUniform(3, V * D), [V, D]);
      const idx = tf.tensor1d(ids, 'int32');
      const w = tf.tensor2d(seededUniform(4, ids.length * D), [ids.length, D]);
      // dL/dtable of L = Σ w ⊙ table[idx], three ways.
      const viaGather = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), w)))(table);
      const oneHot = tf.matMul(tf.oneHot(idx, V), w, true, false);
      const scatter = tf.unsortedSegmentSum(w, idx, V);
      return {
        scatter: scatter.dataSync() as Float32Array,
        oneHot: oneHot.dataSync() as Float32Array,
        viaGather: viaGather.dataSync() as Float32Array,
      };
    });
  }

  it('on wasm: tf.grad of tf.gather, the scatter-add and the one-hot product agree bit for bit', () => {
    const { scatter, oneHot, viaGather } = gradients();
    expect(Array.from(scatter)).toEqual(Array.from(oneHot));
    expect(Array.from(viaGather)).toEqual(Array.from(scatter));
  });

  it('on cpu: the same three agree to float32 rounding, and with the wasm result', async () => {
    const wasm = gradients().scatter;
    await tf.setBackend('cpu');
    try {
      const { scatter, oneHot, viaGather } = gradients();
      for (const got of [scatter, oneHot, viaGather]) {
        expect(got.length).toBe(wasm.length);
        got.forEach((v, i) =>
          expect(Math.abs(v - wasm[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))),
        );
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
