import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpilogueKernels } from './blas-kernels.js';
import {
  isWasmBackendLike,
  makeBlasBatchMatMulKernel,
  makeBlasFusedMatMulKernel,
} from './blas-kernels.js';
import { loadBlas } from './load-blas.js';
import { naiveMatMul } from './testing/index.js';
import type { Sgemm, Sgemv, WasmBackendLike } from './types.js';

const loaded = loadBlas({});
const realSgemm: Sgemm | undefined = E.isRight(loaded) ? loaded.right.sgemm : undefined;
const sgemv: Sgemv = (...args) => {
  if (E.isLeft(loaded)) throw new Error('test: nblas missing');
  loaded.right.sgemv(...args);
};

function ramp(size: number, scale: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * scale));
}

function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < want.length; i += 1) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

describe.skipIf(realSgemm === undefined)(
  'BLAS kernels called directly (spy sgemm, stock fallback)',
  () => {
    let backend: WasmBackendLike & { readSync(dataId: object): unknown; numDataIds(): number };
    const calls = { sgemm: 0, original: 0 };
    const spy: Sgemm = (...args) => {
      calls.sgemm += 1;
      realSgemm!(...args);
    };
    const stock = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
    const countingStock: KernelFunc = (params) => {
      calls.original += 1;
      return stock(params);
    };
    const read = (info: TensorInfo): Float32Array => {
      const data = Float32Array.from(backend.readSync(info.dataId) as Float32Array);
      backend.disposeData(info.dataId);
      return data;
    };
    const single = (result: TensorInfo | TensorInfo[]): TensorInfo =>
      Array.isArray(result) ? result[0]! : result;

    beforeAll(async () => {
      await tf.setBackend('wasm');
      const current = tf.backend();
      if (!isWasmBackendLike(current)) throw new Error('test: wasm backend expected');
      backend = current as typeof backend;
    });
    afterAll(async () => {
      await tf.setBackend('cpu');
    });

    it('folds a weight-shared batch into one sgemm, loops otherwise, never calls the stock kernel', () => {
      const kernel = makeBlasBatchMatMulKernel({
        settings: { sgemm: spy, sgemv, minFlops: 0 },
        original: countingStock,
      });
      const a = tf.tensor(ramp(4 * 7 * 33, 1.1), [4, 7, 33]);
      const w = tf.tensor(ramp(33 * 5, 0.3), [33, 5]);
      const wb = tf.tensor(ramp(4 * 33 * 5, 0.3), [4, 33, 5]);
      calls.sgemm = 0;
      calls.original = 0;
      const folded = read(
        single(
          kernel({ inputs: { a, b: w }, backend, attrs: { transposeA: false, transposeB: false } }),
        ),
      );
      expect(calls).toEqual({ sgemm: 1, original: 0 });
      const looped = read(
        single(
          kernel({
            inputs: { a, b: wb },
            backend,
            attrs: { transposeA: false, transposeB: false },
          }),
        ),
      );
      expect(calls).toEqual({ sgemm: 5, original: 0 });
      const aData = a.dataSync();
      for (let entry = 0; entry < 4; entry += 1) {
        const aEntry = aData.subarray(entry * 231, (entry + 1) * 231);
        const wEntry = wb.dataSync().subarray(entry * 165, (entry + 1) * 165);
        const want = naiveMatMul({ a: aEntry, b: w.dataSync(), m: 7, k: 33, n: 5 });
        const wantLooped = naiveMatMul({ a: aEntry, b: wEntry, m: 7, k: 33, n: 5 });
        expect(relativeError(folded.subarray(entry * 35, (entry + 1) * 35), want)).toBeLessThan(
          1e-5,
        );
        expect(
          relativeError(looped.subarray(entry * 35, (entry + 1) * 35), wantLooped),
        ).toBeLessThan(1e-5);
      }
      tf.dispose([a, w, wb]);
    });

    it('declines to the stock kernel below minFlops and for int32', () => {
      const kernel = makeBlasBatchMatMulKernel({
        settings: { sgemm: spy, sgemv, minFlops: 2 * 3 * 4 * 5 + 1 },
        original: countingStock,
      });
      const a = tf.tensor(ramp(12, 1), [3, 4]);
      const b = tf.tensor(ramp(20, 2), [4, 5]);
      calls.sgemm = 0;
      calls.original = 0;
      const out = read(
        single(
          kernel({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }),
        ),
      );
      expect(calls).toEqual({ sgemm: 0, original: 1 });
      expect(
        relativeError(out, naiveMatMul({ a: a.dataSync(), b: b.dataSync(), m: 3, k: 4, n: 5 })),
      ).toBeLessThan(1e-5);
      const ai = tf.cast(a, 'int32');
      const bi = tf.cast(b, 'int32');
      expect(() => kernel({ inputs: { a: ai, b: bi }, backend, attrs: {} })).toThrow(/non-float32/);
      expect(calls).toEqual({ sgemm: 0, original: 2 });
      tf.dispose([a, b, ai, bi]);
    });

    it('fused kernel computes bias + activation on its own path (stock kernel never called)', () => {
      const get = (name: string): KernelFunc => tf.getKernel(name, 'wasm').kernelFunc;
      const epilogue: EpilogueKernels = {
        add: get('Add'),
        relu: get('Relu'),
        relu6: get('Relu6'),
        elu: get('Elu'),
        leakyRelu: get('LeakyRelu'),
        prelu: get('Prelu'),
        sigmoid: get('Sigmoid'),
      };
      const kernel = makeBlasFusedMatMulKernel({
        settings: { sgemm: spy, sgemv, minFlops: 0 },
        original: () => {
          throw new Error('stock _FusedMatMul must not run');
        },
        epilogue,
      });
      const a = tf.tensor(ramp(2 * 3 * 4, 0.9), [2, 3, 4]);
      const b = tf.tensor(ramp(4 * 5, 0.4), [1, 4, 5]);
      // [5] and [1, 5] are written into the output before sgemm; [3, 5] goes through Add.
      for (const biasShape of [[5], [1, 5], [3, 5]]) {
        const bias = tf.tensor(
          ramp(
            biasShape.reduce((p, q) => p * q, 1),
            2.3,
          ),
          biasShape,
        );
        const idsBefore = backend.numDataIds();
        const out = read(
          single(
            kernel({
              inputs: { a, b, bias },
              backend,
              attrs: { transposeA: false, transposeB: false, activation: 'relu' },
            }),
          ),
        );
        expect(backend.numDataIds()).toBe(idsBefore);
        const want = tf.tidy(() =>
          tf.relu(tf.add(tf.matMul(a, tf.reshape(b, [4, 5])), bias)).dataSync(),
        );
        expect(relativeError(out, want)).toBeLessThan(1e-5);
        bias.dispose();
      }
      tf.dispose([a, b]);
    });

    it('stays right when the heap grows inside makeOutput and between matmuls', () => {
      const kernel = makeBlasBatchMatMulKernel({
        settings: { sgemm: spy, sgemv, minFlops: 0 },
        original: countingStock,
      });
      const heapBefore = backend.wasm.HEAPU8.buffer;
      const m = 1024;
      // An output larger than the whole current heap forces growth in makeOutput, after the
      // operands' offsets were read: the views must be taken from the new buffer.
      const n = Math.ceil(heapBefore.byteLength / 4 / m) + 256;
      const a = tf.tensor(ramp(m * 2, 0.01), [m, 2]);
      const b = tf.tensor(ramp(2 * n, 0.02), [2, n]);
      const out = read(
        single(
          kernel({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }),
        ),
      );
      expect(backend.wasm.HEAPU8.buffer).not.toBe(heapBefore);
      const want = naiveMatMul({ a: a.dataSync(), b: b.dataSync(), m, k: 2, n });
      expect(relativeError(out, want)).toBeLessThan(1e-5);

      const x = tf.tensor(ramp(64 * 48, 0.5), [64, 48]);
      const y = tf.tensor(ramp(48 * 32, 0.7), [48, 32]);
      const first = tf.matMul(x, y, false, false);
      const heapMiddle = backend.wasm.HEAPU8.buffer;
      const big = tf.zeros([heapMiddle.byteLength / 4 + 1024]); // grows the heap again
      expect(backend.wasm.HEAPU8.buffer).not.toBe(heapMiddle);
      const second = read(single(kernel({ inputs: { a: x, b: y }, backend, attrs: {} })));
      expect(relativeError(second, first.dataSync())).toBeLessThan(1e-5);
      expect(
        relativeError(
          second,
          naiveMatMul({ a: x.dataSync(), b: y.dataSync(), m: 64, k: 48, n: 32 }),
        ),
      ).toBeLessThan(1e-5);
      tf.dispose([a, b, x, y, first, big]);
    });
  },
);
