import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWasmBackendLike } from './blas-kernels.js';
import { blasReduce } from './blas-reduce.js';
import { disableWasmBlas, enableWasmBlas } from './enable-wasm-blas.js';
import { loadBlas } from './load-blas.js';
import type { WasmBackendLike } from './types.js';

const loaded = loadBlas({});
// The engine must activate here (nblas on an optimized BLAS, COVRL_BLAS not 0) for these tests.
await tf.setBackend('wasm');
const blasHere = enableWasmBlas().active;
disableWasmBlas();

function ramp(size: number, scale: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * scale + 0.3));
}

/** Naive oracle: for every element, add it to the output cell its unreduced coordinates name. */
function naiveReduce(data: ArrayLike<number>, shape: number[], axes: number[], mean: boolean) {
  const rank = shape.length;
  const set = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const outDims = shape.filter((_, d) => !set.has(d));
  const out = new Float64Array(outDims.reduce((p, s) => p * s, 1));
  const count = shape.filter((_, d) => set.has(d)).reduce((p, s) => p * s, 1);
  for (let flat = 0; flat < data.length; flat += 1) {
    let rest = flat;
    let target = 0;
    let stride = 1;
    for (let d = rank - 1; d >= 0; d -= 1) {
      const coord = rest % shape[d]!;
      rest = Math.floor(rest / shape[d]!);
      if (!set.has(d)) {
        target += coord * stride;
        stride *= shape[d]!;
      }
    }
    out[target]! += data[flat]! / (mean ? count : 1);
  }
  return out;
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

describe.skipIf(!blasHere)('BLAS Sum and Mean on the wasm backend', () => {
  let backend: WasmBackendLike & { readSync(dataId: object): unknown };
  beforeAll(async () => {
    await tf.setBackend('wasm');
    const current = tf.backend();
    if (!isWasmBackendLike(current)) throw new Error('test: wasm backend expected');
    backend = current as typeof backend;
    expect(enableWasmBlas().active).toBe(true);
  });
  afterAll(async () => {
    disableWasmBlas();
    await tf.setBackend('cpu');
  });

  const CASES: { shape: number[]; axes: number[]; keepDims: boolean }[] = [
    { shape: [33, 7], axes: [0], keepDims: false },
    { shape: [33, 7], axes: [1], keepDims: true },
    { shape: [33, 7], axes: [0, 1], keepDims: false },
    { shape: [2, 7, 33], axes: [0, 1], keepDims: false },
    { shape: [2, 7, 33], axes: [1], keepDims: true },
    { shape: [2, 7, 33], axes: [-1], keepDims: false },
    { shape: [2, 7, 3, 5], axes: [1, 2], keepDims: false },
    { shape: [2, 7, 3, 5], axes: [0, 2], keepDims: true }, // not contiguous: stock kernel
    { shape: [1], axes: [0], keepDims: false },
  ];

  it.each(CASES)(
    'sum and mean of $shape over $axes (keepDims $keepDims) match the oracle and cpu',
    async ({ shape, axes, keepDims }) => {
      const data = ramp(
        shape.reduce((p, s) => p * s, 1),
        0.37,
      );
      for (const mean of [false, true]) {
        const op = (): tf.Tensor => {
          const x = tf.tensor(data, shape);
          return mean ? tf.mean(x, axes, keepDims) : tf.sum(x, axes, keepDims);
        };
        const before = tf.memory().numTensors;
        const got = tf.tidy(op);
        expect(tf.memory().numTensors).toBe(before + 1);
        const want = naiveReduce(data, shape, axes, mean);
        expect(relativeError(got.dataSync(), want)).toBeLessThan(1e-5);
        await tf.setBackend('cpu');
        const cpu = tf.tidy(op);
        expect(got.shape).toEqual(cpu.shape);
        expect(relativeError(got.dataSync(), cpu.dataSync())).toBeLessThan(1e-5);
        cpu.dispose();
        await tf.setBackend('wasm');
        got.dispose();
      }
    },
  );

  it('random shapes and contiguous axis blocks match the oracle (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
        fc.nat(3),
        fc.nat(3),
        fc.boolean(),
        (shape, start, length, mean) => {
          const first = start % shape.length;
          const last = Math.min(shape.length - 1, first + (length % shape.length));
          const axes = Array.from({ length: last - first + 1 }, (_, i) => first + i);
          const data = ramp(
            shape.reduce((p, s) => p * s, 1),
            0.11,
          );
          const got = tf.tidy(() =>
            mean ? tf.mean(tf.tensor(data, shape), axes) : tf.sum(tf.tensor(data, shape), axes),
          );
          expect(relativeError(got.dataSync(), naiveReduce(data, shape, axes, mean))).toBeLessThan(
            1e-5,
          );
          got.dispose();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('direct call: declines int32 and non-contiguous axes, and zeroes NaN-poisoned output memory', () => {
    const sgemv = E.isRight(loaded) ? loaded.right.sgemv : undefined;
    if (sgemv === undefined) throw new Error('test: nblas missing');
    const x = tf.tensor(ramp(4 * 5 * 6, 0.2), [4, 5, 6]);
    const xi = tf.cast(x, 'int32');
    expect(
      blasReduce({ backend, x: xi, axis: [0], keepDims: false, mean: false, sgemv }),
    ).toBeNull();
    expect(
      blasReduce({ backend, x, axis: [0, 2], keepDims: false, mean: false, sgemv }),
    ).toBeNull();
    // Free a NaN-filled buffer of the output's size so the allocator can hand it back.
    const poison = tf.fill([5, 6], Number.NaN);
    const poisonOffset = backend.dataIdMap.get(poison.dataId)?.memoryOffset;
    poison.dispose();
    const out = blasReduce({
      backend,
      x,
      axis: 0,
      keepDims: false,
      mean: false,
      sgemv,
    }) as TensorInfo;
    // The allocator hands the freed NaN block back (else this test would prove nothing).
    expect(backend.dataIdMap.get(out.dataId)?.memoryOffset).toBe(poisonOffset);
    const values = Float32Array.from(backend.readSync(out.dataId) as Float32Array);
    backend.disposeData(out.dataId);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(relativeError(values, naiveReduce(x.dataSync(), [4, 5, 6], [0], false))).toBeLessThan(
      1e-5,
    );
    tf.dispose([x, xi]);
  });

  it('a matmul output in memory that held NaN is fully overwritten', () => {
    const a = tf.ones([37, 3]);
    const b = tf.ones([3, 29]);
    const poison = tf.fill([37, 29], Number.NaN);
    const poisonOffset = backend.dataIdMap.get(poison.dataId)?.memoryOffset;
    poison.dispose();
    const y = tf.matMul(a, b);
    expect(backend.dataIdMap.get(y.dataId)?.memoryOffset).toBe(poisonOffset);
    expect([...y.dataSync()].every((v) => v === 3)).toBe(true);
    tf.dispose([a, b, y]);
  });

  it('reductions: false keeps the stock Sum and Mean (and switching reinstalls)', () => {
    const stockSum = tf.getKernel('Sum', 'wasm').kernelFunc;
    expect(enableWasmBlas().reason).toMatch(/Sum, Mean/);
    const status = enableWasmBlas({ reductions: false });
    expect(status.active).toBe(true);
    expect(status.reason).not.toMatch(/Sum/);
    disableWasmBlas();
    const original = tf.getKernel('Sum', 'wasm').kernelFunc;
    expect(enableWasmBlas().active).toBe(true);
    expect(tf.getKernel('Sum', 'wasm').kernelFunc).not.toBe(original);
    expect(stockSum).not.toBe(original); // stockSum was the BLAS one, installed in beforeAll
  });
});
