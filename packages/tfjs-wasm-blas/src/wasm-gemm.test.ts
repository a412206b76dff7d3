import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableWasmBlas, enableWasmBlas, wasmBlasStatus } from './enable-wasm-blas.js';
import { disableWasmFusedKernels, enableWasmFusedKernels } from './fused-kernels.js';
import { isNblasLoadable, naiveMatMul, seededUniform } from './testing/index.js';

/** Float32 unit roundoff. */
const U = 2 ** -24;

/**
 * Checks `got` (float32 results of op(A)·op(B) for every batch entry) against the float64
 * oracle with the textbook error bound of a float32 dot product of length k,
 * |ĉ − c| ≤ γ_k·Σ|a||b| with γ_k ≈ k·u (Higham, Accuracy and Stability, §3.1), times 2 for slack.
 */
function expectMatMul(
  got: Float32Array,
  a: Float32Array,
  b: Float32Array,
  dims: { m: number; k: number; n: number; transposeA: boolean; transposeB: boolean },
  entries: readonly (readonly [number, number])[],
  bias?: Float32Array,
): void {
  const { m, k, n } = dims;
  expect(got.length).toBe(entries.length * m * n);
  entries.forEach(([ea, eb], e) => {
    const sa = a.subarray(ea * m * k, (ea + 1) * m * k);
    const sb = b.subarray(eb * k * n, (eb + 1) * k * n);
    const ref = naiveMatMul({ ...dims, a: sa, b: sb });
    const abs = naiveMatMul({ ...dims, a: sa.map(Math.abs), b: sb.map(Math.abs) });
    for (let i = 0; i < m * n; i++) {
      const want = ref[i]! + (bias?.[i % n] ?? 0);
      const bound = 2 * (k + 1) * U * (abs[i]! + Math.abs(bias?.[i % n] ?? 0)) + 1e-30;
      const err = Math.abs(got[e * m * n + i]! - want);
      if (!(err <= bound)) {
        throw new Error(`entry ${e} element ${i}: got ${got[e * m * n + i]}, want ${want}`);
      }
    }
  });
}

let previousBackend: string;
beforeAll(async () => {
  previousBackend = tf.getBackend();
  await tf.setBackend('wasm');
  disableWasmBlas();
  const status = enableWasmFusedKernels();
  expect(status.reason).toMatch(/BatchMatMul \(SIMD128 GEMM\)/);
  expect(status.gemm).toBe(true);
});
afterAll(async () => {
  disableWasmFusedKernels();
  await tf.setBackend(previousBackend);
});

const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe('SIMD128 GEMM as the wasm BatchMatMul', () => {
  // SIMD tails (m % 4, n % 8, n % 4), 1×N, N×1, K = 1, a K block boundary (256), an N block
  // boundary (512).
  const SHAPES = [
    [1, 1, 1],
    [1, 5, 9],
    [9, 5, 1],
    [7, 1, 13],
    [5, 3, 7],
    [4, 8, 8],
    [13, 300, 17],
    [70, 257, 9],
    [6, 20, 523],
    [2, 513, 3],
    // m = 1 runs the single-row path (16- and 4-column blocks and tails; dot products over k).
    [1, 300, 37],
    [1, 7, 16],
    [1, 1030, 5],
  ] as const;
  it.each(SHAPES.flatMap(([m, k, n]) => FLAGS.map(([ta, tb]) => [m, k, n, ta, tb] as const)))(
    '[%i×%i]·[%i×…] (m, k, n) transposeA %s transposeB %s matches the float64 oracle',
    (m, k, n, transposeA, transposeB) => {
      const a = seededUniform(m * 1000 + k, m * k);
      const b = seededUniform(n * 1000 + k + 7, k * n);
      const got = tf.tidy(() =>
        tf
          .matMul(
            tf.tensor2d(a, transposeA ? [k, m] : [m, k]),
            tf.tensor2d(b, transposeB ? [n, k] : [k, n]),
            transposeA,
            transposeB,
          )
          .dataSync(),
      ) as Float32Array;
      expectMatMul(got, a, b, { m, k, n, transposeA, transposeB }, [[0, 0]]);
    },
  );

  it.each(FLAGS)(
    'single rows in a batch (decoding: [8, 1, 40]·[8, 40, 21]), transposeA %s transposeB %s',
    (transposeA, transposeB) => {
      const [m, k, n] = [1, 40, 21];
      const a = seededUniform(21, 8 * k);
      const b = seededUniform(22, 8 * k * n);
      const got = tf.tidy(
        () =>
          tf
            .matMul(
              tf.tensor3d(a, [8, ...(transposeA ? [k, m] : [m, k])] as [number, number, number]),
              tf.tensor3d(b, [8, ...(transposeB ? [n, k] : [k, n])] as [number, number, number]),
              transposeA,
              transposeB,
            )
            .dataSync() as Float32Array,
      );
      const entries = Array.from({ length: 8 }, (_, e) => [e, e] as const);
      expectMatMul(got, a, b, { m, k, n, transposeA, transposeB }, entries);
    },
  );

  it('empty products: m = 0 and n = 0 give empty tensors, k = 0 gives zeros', () => {
    tf.tidy(() => {
      expect(tf.matMul(tf.zeros([0, 3]), tf.zeros([3, 4])).shape).toEqual([0, 4]);
      expect(tf.matMul(tf.zeros([2, 3]), tf.zeros([3, 0])).shape).toEqual([2, 0]);
      expect(tf.matMul(tf.zeros([2, 0, 3]), tf.zeros([2, 3, 4])).shape).toEqual([2, 0, 4]);
      // The output block may hold old data (NaN here): k = 0 must still write zeros.
      tf.dispose(tf.fill([64], NaN));
      const z = tf.matMul(tf.ones([3, 0]), tf.ones([0, 5]));
      expect(z.shape).toEqual([3, 5]);
      expect(Array.from(z.dataSync())).toEqual(new Array(15).fill(0));
    });
  });

  // [batchA, batchB, entries (source entry of A and of B per output matrix)]
  const BATCHES: readonly [number[], number[], [number, number][]][] = [
    [
      [3],
      [3],
      [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
    ],
    [
      [1],
      [3],
      [
        [0, 0],
        [0, 1],
        [0, 2],
      ],
    ],
    [
      [3],
      [1],
      [
        [0, 0],
        [1, 0],
        [2, 0],
      ],
    ],
    [
      [3],
      [],
      [
        [0, 0],
        [1, 0],
        [2, 0],
      ],
    ],
    [
      [],
      [2],
      [
        [0, 0],
        [0, 1],
      ],
    ],
    [
      [2, 1],
      [1, 3],
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [1, 0],
        [1, 1],
        [1, 2],
      ],
    ],
  ];
  it.each(BATCHES.flatMap(([ba, bb, e]) => FLAGS.map(([ta, tb]) => [ba, bb, ta, tb, e] as const)))(
    'batch %j · batch %j (transposeA %s, transposeB %s) broadcasts like TF.js BatchMatMul',
    (batchA, batchB, transposeA, transposeB, entries) => {
      const [m, k, n] = [5, 7, 9];
      const countA = batchA.reduce((p, s) => p * s, 1);
      const countB = batchB.reduce((p, s) => p * s, 1);
      const a = seededUniform(11, countA * m * k);
      const b = seededUniform(12, countB * k * n);
      const out = tf.tidy(() => {
        const t = tf.matMul(
          tf.tensor(a, [...batchA, ...(transposeA ? [k, m] : [m, k])]),
          tf.tensor(b, [...batchB, ...(transposeB ? [n, k] : [k, n])]),
          transposeA,
          transposeB,
        );
        return { shape: t.shape, data: t.dataSync() as Float32Array };
      });
      expect(out.shape.slice(-2)).toEqual([m, n]);
      expectMatMul(out.data, a, b, { m, k, n, transposeA, transposeB }, entries);
    },
  );

  it('never calls the stock kernel for float32 products', () => {
    disableWasmFusedKernels();
    const stock = tf.getKernel('BatchMatMul', 'wasm')!;
    let calls = 0;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({
      ...stock,
      kernelFunc: (params) => {
        calls += 1;
        return stock.kernelFunc(params);
      },
    });
    try {
      enableWasmFusedKernels();
      tf.tidy(() => {
        tf.matMul(tf.ones([2, 3, 4]), tf.ones([4, 5]), false, false).dataSync();
        tf.matMul(tf.ones([2, 4, 3]), tf.ones([2, 5, 4]), true, true).dataSync();
      });
      expect(calls).toBe(0);
      // int32 goes to the original (which refuses it with its own error).
      expect(() =>
        tf.tidy(() => tf.matMul(tf.ones([2, 2], 'int32'), tf.ones([2, 2], 'int32'))),
      ).toThrow(/non-float32/);
      expect(calls).toBe(1);
    } finally {
      disableWasmFusedKernels();
      tf.unregisterKernel('BatchMatMul', 'wasm');
      tf.registerKernel(stock);
      enableWasmFusedKernels();
    }
  });

  it('frees its scratch block and leaks no tensor', () => {
    const a = tf.randomNormal([33, 300]);
    const b = tf.randomNormal([300, 70]);
    tf.matMul(a, b).dispose();
    const before = tf.memory();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    tf.matMul(a, b, false, false).dispose();
    tf.matMul(b, a, true, true).dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(backend.numDataIds()).toBe(ids);
    tf.dispose([a, b]);
  });
});

describe('SIMD128 GEMM as the wasm _FusedMatMul', () => {
  async function onBoth<T>(fn: () => T): Promise<[T, T]> {
    const wasm = fn();
    await tf.setBackend('cpu');
    try {
      return [wasm, fn()];
    } finally {
      await tf.setBackend('wasm');
    }
  }

  it.each([
    ['linear', [9]],
    ['relu', [9]],
    ['sigmoid', [1, 9]],
    ['elu', [5, 9]],
    ['leakyrelu', [9]],
  ] as const)(
    'activation %s with a bias of shape %j (batch 2, transposes) equals the cpu backend',
    async (activation, biasShape) => {
      const [wasm, cpu] = await onBoth(() =>
        tf.tidy(() => {
          const x = tf.tensor(seededUniform(1, 2 * 7 * 5), [2, 7, 5]);
          const w = tf.tensor(seededUniform(2, 2 * 9 * 7), [2, 9, 7]);
          const bias = tf.tensor(
            seededUniform(
              3,
              (biasShape as readonly number[]).reduce((p, s) => p * s, 1),
            ),
            [...biasShape],
          );
          return Array.from(
            tf.fused
              .matMul({
                a: x,
                b: w,
                transposeA: true,
                transposeB: true,
                bias,
                activation,
                leakyreluAlpha: 0.1,
              })
              .dataSync(),
          );
        }),
      );
      expect(wasm.length).toBe(cpu.length);
      wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i]!, 5));
    },
  );

  it.each([false, true])(
    'one row with a bias of n values (transposeB %s) adds the bias once',
    (transposeB) => {
      const a = seededUniform(31, 50);
      const b = seededUniform(32, 50 * 19);
      const bias = seededUniform(33, 19);
      const got = tf.tidy(
        () =>
          tf.fused
            .matMul({
              a: tf.tensor2d(a, [1, 50]),
              b: tf.tensor2d(b, transposeB ? [19, 50] : [50, 19]),
              transposeB,
              bias: tf.tensor1d(bias),
            })
            .dataSync() as Float32Array,
      );
      expectMatMul(
        got,
        a,
        b,
        { m: 1, k: 50, n: 19, transposeA: false, transposeB },
        [[0, 0]],
        bias,
      );
    },
  );

  it('k = 0 with a bias gives the bias on every row', () => {
    const got = tf.tidy(() =>
      Array.from(
        tf.fused
          .matMul({ a: tf.ones([3, 0]), b: tf.ones([0, 4]), bias: tf.tensor1d([1, 2, 3, 4]) })
          .dataSync(),
      ),
    );
    expect(got).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
  });
});

describe('gradients through tf.grad on the wasm backend', () => {
  async function gradsOnBoth(fn: () => tf.Tensor[]): Promise<[number[][], number[][]]> {
    const run = () => tf.tidy(() => fn().map((t) => Array.from(t.dataSync())));
    const wasm = run();
    await tf.setBackend('cpu');
    try {
      return [wasm, run()];
    } finally {
      await tf.setBackend('wasm');
    }
  }
  function expectClose(got: number[][], want: number[][]): void {
    expect(got.length).toBe(want.length);
    got.forEach((g, t) => {
      const w = want[t]!;
      const scale = Math.max(1, ...w.map(Math.abs));
      g.forEach((v, i) => expect(Math.abs(v - w[i]!) / scale).toBeLessThan(1e-5));
    });
  }

  it.each(FLAGS)(
    'matMul (rank 3, transposeA %s, transposeB %s): both gradients equal the cpu backend',
    async (transposeA, transposeB) => {
      const [wasm, cpu] = await gradsOnBoth(() => {
        const a = tf.tensor(seededUniform(5, 2 * 6 * 11), transposeA ? [2, 11, 6] : [2, 6, 11]);
        const b = tf.tensor(seededUniform(6, 2 * 11 * 13), transposeB ? [2, 13, 11] : [2, 11, 13]);
        const w = tf.tensor(seededUniform(7, 2 * 6 * 13), [2, 6, 13]);
        return tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.square(tf.matMul(x, y, transposeA, transposeB)), w)),
        )([a, b]);
      });
      expectClose(wasm, cpu);
    },
  );

  it('fused matMul with bias and relu: gradients of a, b and bias equal the cpu backend', async () => {
    const [wasm, cpu] = await gradsOnBoth(() => {
      const a = tf.tensor2d(seededUniform(8, 10 * 7), [10, 7]);
      const b = tf.tensor2d(seededUniform(9, 7 * 12), [7, 12]);
      const bias = tf.tensor1d(seededUniform(10, 12));
      return tf.grads((x: tf.Tensor, y: tf.Tensor, c: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.fused.matMul({
              a: x as tf.Tensor2D,
              b: y as tf.Tensor2D,
              bias: c,
              activation: 'relu',
            }),
          ),
        ),
      )([a, b, bias]);
    });
    expectClose(wasm, cpu);
  });
});

describe('with the BLAS engine', () => {
  it.skipIf(!isNblasLoadable())(
    'leaves the matmuls to an active BLAS engine and installs the GEMM once it is gone',
    () => {
      try {
        disableWasmFusedKernels();
        expect(enableWasmBlas().active).toBe(true);
        const blasKernel = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
        const deferred = enableWasmFusedKernels();
        expect(deferred.reason).toMatch(
          /BatchMatMul and _FusedMatMul left to the active BLAS engine/,
        );
        expect(deferred.gemm).toBe(false);
        expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(blasKernel);
        expect(wasmBlasStatus().active).toBe(true);
        disableWasmBlas();
        expect(enableWasmFusedKernels().reason).toMatch(/BatchMatMul \(SIMD128 GEMM\)/);
        // Enabled after the GEMM, BLAS wraps it and disabling BLAS brings it back.
        const gemm = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
        expect(enableWasmBlas().active).toBe(true);
        expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(gemm);
        disableWasmBlas();
        expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(gemm);
      } finally {
        disableWasmBlas();
        enableWasmFusedKernels();
      }
    },
  );
});
