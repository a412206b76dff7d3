import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { disableWasmBlas, enableWasmBlas, wasmBlasStatus } from './enable-wasm-blas.js';
import { naiveMatMul, seededUniform } from './testing/index.js';

// Whether this machine can run the engine at all (nblas built against an optimized BLAS). The
// fallback tests run everywhere; BLAS-specific assertions are skipped where it cannot.
await tf.setBackend('wasm');
const probe = enableWasmBlas();
disableWasmBlas();
const blasHere = probe.active;
const stockBatchMatMul = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
const stockFusedMatMul = tf.getKernel('_FusedMatMul', 'wasm').kernelFunc;

const seeded = seededUniform;

const sizeOf = (shape: readonly number[]): number => shape.reduce((p, s) => p * s, 1);

/** Naive batched oracle: per output batch entry, unravel, clamp broadcast axes, naiveMatMul. */
function oracle(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): { data: Float64Array; shape: number[] } {
  const m = transposeA ? aShape.at(-1)! : aShape.at(-2)!;
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const n = transposeB ? bShape.at(-2)! : bShape.at(-1)!;
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const padA = [...new Array<number>(rank - batchA.length).fill(1), ...batchA];
  const padB = [...new Array<number>(rank - batchB.length).fill(1), ...batchB];
  const batch = padA.map((x, i) => Math.max(x, padB[i]!));
  const data = new Float64Array(sizeOf(batch) * m * n);
  for (let flat = 0; flat < sizeOf(batch); flat += 1) {
    const coords: number[] = [];
    let rest = flat;
    for (let axis = rank - 1; axis >= 0; axis -= 1) {
      coords.unshift(rest % batch[axis]!);
      rest = Math.floor(rest / batch[axis]!);
    }
    const ravel = (pad: number[]): number =>
      pad.reduce((acc, size, axis) => acc * size + (size === 1 ? 0 : coords[axis]!), 0);
    const ia = ravel(padA);
    const ib = ravel(padB);
    const c = naiveMatMul({
      a: a.subarray(ia * m * k, (ia + 1) * m * k),
      b: b.subarray(ib * k * n, (ib + 1) * k * n),
      m,
      k,
      n,
      transposeA,
      transposeB,
    });
    data.set(c, flat * m * n);
  }
  return { data, shape: [...batch, m, n] };
}

/** max |got − want| / max |want|: the relative error used throughout (bound 1e-4). */
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

/** Runs `fn` on the named backend (with fresh inputs made inside `fn`) and returns its data. */
async function runOn(
  backend: 'wasm' | 'cpu',
  fn: () => tf.Tensor,
): Promise<{ data: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const out = fn();
  const result = { data: Float32Array.from(out.dataSync()), shape: out.shape };
  out.dispose();
  await tf.setBackend('wasm');
  return result;
}

interface Case {
  readonly a: number[];
  readonly b: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

// Shapes as stored (already transposed where the flag is set).
const CASES: Case[] = [
  { a: [7, 33], b: [33, 1], transposeA: false, transposeB: false },
  { a: [1, 7], b: [7, 33], transposeA: false, transposeB: false },
  { a: [33, 7], b: [33, 1], transposeA: true, transposeB: false },
  { a: [7, 33], b: [1, 33], transposeA: false, transposeB: true },
  { a: [33, 7], b: [5, 33], transposeA: true, transposeB: true },
  { a: [1, 1], b: [1, 1], transposeA: false, transposeB: false },
  { a: [3, 7, 33], b: [3, 33, 7], transposeA: false, transposeB: false },
  { a: [1, 7, 33], b: [4, 33, 5], transposeA: false, transposeB: false },
  { a: [4, 7, 33], b: [1, 33, 5], transposeA: false, transposeB: false },
  { a: [4, 7, 33], b: [33, 5], transposeA: false, transposeB: false },
  { a: [4, 33, 7], b: [33, 5], transposeA: true, transposeB: false },
  { a: [7, 33], b: [4, 33, 5], transposeA: false, transposeB: false },
  { a: [7, 33], b: [4, 5, 33], transposeA: false, transposeB: true },
  { a: [2, 3, 7, 5], b: [2, 3, 5, 1], transposeA: false, transposeB: false },
  { a: [2, 1, 5, 7], b: [1, 3, 4, 5], transposeA: true, transposeB: true },
  { a: [2, 3, 33, 7], b: [3, 33, 7], transposeA: true, transposeB: false },
  { a: [64, 128, 32], b: [64, 32, 128], transposeA: false, transposeB: false },
];

describe.skipIf(!blasHere)('BLAS BatchMatMul on the wasm backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    expect(enableWasmBlas().active).toBe(true);
  });
  afterAll(async () => {
    disableWasmBlas();
    await tf.setBackend('cpu');
  });

  it.each(CASES)(
    'a $a · b $b (transposeA $transposeA, transposeB $transposeB) matches the oracle, stock wasm and cpu',
    async ({ a, b, transposeA, transposeB }) => {
      const aData = seeded(sizeOf(a), sizeOf(a));
      const bData = seeded(sizeOf(b) + 7, sizeOf(b));
      const op = (): tf.Tensor =>
        tf.matMul(tf.tensor(aData, a), tf.tensor(bData, b), transposeA, transposeB);
      const want = oracle(aData, a, bData, b, transposeA, transposeB);
      const before = tf.memory().numTensors;
      const blas = await runOn('wasm', () => tf.tidy(op));
      expect(tf.memory().numTensors).toBe(before);
      expect(blas.shape).toEqual(want.shape);
      expect(relativeError(blas.data, want.data)).toBeLessThan(1e-4);
      // TF.js's cpu and stock wasm kernels index batches modulo their size: right only when
      // one side's batch is 1 or both are equal, so a [2,1]·[1,3] mix is checked on the oracle.
      const mixed = a.length === 4 && b.length === 4 && a[0] !== b[0] && a[1] !== b[1];
      if (mixed) return;
      const cpu = await runOn('cpu', () => tf.tidy(op));
      expect(relativeError(blas.data, cpu.data)).toBeLessThan(1e-4);
      disableWasmBlas();
      try {
        const stock = await runOn('wasm', () => tf.tidy(op));
        expect(relativeError(blas.data, stock.data)).toBeLessThan(1e-4);
      } finally {
        enableWasmBlas();
      }
    },
  );

  it('random shapes, flags and broadcast patterns match the naive oracle (fast-check)', () => {
    const dim = fc.integer({ min: 1, max: 9 });
    fc.assert(
      fc.property(
        fc.record({
          m: dim,
          k: dim,
          n: dim,
          batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
          dropA: fc.nat(2),
          dropB: fc.nat(2),
          onesA: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
          onesB: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
          transposeA: fc.boolean(),
          transposeB: fc.boolean(),
          seed: fc.nat(1000),
        }),
        (c) => {
          const batchOf = (drop: number, ones: boolean[]): number[] =>
            c.batch.slice(Math.min(drop, c.batch.length)).map((s, i) => (ones[i] ? 1 : s));
          const aShape = [
            ...batchOf(c.dropA, c.onesA),
            ...(c.transposeA ? [c.k, c.m] : [c.m, c.k]),
          ];
          const bShape = [
            ...batchOf(c.dropB, c.onesB),
            ...(c.transposeB ? [c.n, c.k] : [c.k, c.n]),
          ];
          const aData = seeded(c.seed, sizeOf(aShape));
          const bData = seeded(c.seed + 1, sizeOf(bShape));
          const want = oracle(aData, aShape, bData, bShape, c.transposeA, c.transposeB);
          const got = tf.tidy(() =>
            tf.matMul(
              tf.tensor(aData, aShape),
              tf.tensor(bData, bShape),
              c.transposeA,
              c.transposeB,
            ),
          );
          expect(got.shape).toEqual(want.shape);
          expect(relativeError(got.dataSync(), want.data)).toBeLessThan(1e-4);
          got.dispose();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gradients of sum(R ⊙ op(A)·op(B)) equal the analytic R·Bᵀ and Aᵀ·R for every flag', () => {
    const [m, k, n] = [7, 33, 5];
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const aShape = transposeA ? [k, m] : [m, k];
        const bShape = transposeB ? [n, k] : [k, n];
        const aData = seeded(11, m * k);
        const bData = seeded(12, k * n);
        const rData = seeded(13, m * n);
        const [da, db] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.tensor(rData, [m, n]), tf.matMul(a, b, transposeA, transposeB))),
        )([tf.tensor(aData, aShape), tf.tensor(bData, bShape)]);
        // dL/dop(A) = R·op(B)ᵀ, [m,k]; dL/dop(B) = op(A)ᵀ·R, [k,n]; transpose back where stored so.
        const bOp = naiveMatMul({
          a: bData,
          b: new Float32Array([1]),
          m: bData.length,
          k: 1,
          n: 1,
        });
        const opB = transposeB ? bOp : transpose(bOp, k, n); // op(B)ᵀ as [n,k]
        const dOpA = naiveMatMul({ a: rData, b: opB, m, k: n, n: k }); // [m,k]
        const opA = transposeA
          ? transpose(Float64Array.from(aData), k, m)
          : Float64Array.from(aData); // [m,k]
        const dOpB = naiveMatMul({ a: opA, b: rData, m: k, k: m, n, transposeA: true }); // [k,n]
        expect(
          relativeError(da!.dataSync(), transposeA ? transpose(dOpA, m, k) : dOpA),
        ).toBeLessThan(1e-4);
        expect(
          relativeError(db!.dataSync(), transposeB ? transpose(dOpB, k, n) : dOpB),
        ).toBeLessThan(1e-4);
        tf.dispose([da!, db!]);
      }
    }
  });

  it('gradient agrees with central finite differences (float32, h = 1e-2)', () => {
    const a = tf.tensor(seeded(21, 6 * 4), [6, 4]);
    const b = tf.tensor(seeded(22, 5 * 4), [5, 4]);
    const loss = (x: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.matMul(x, b, false, true)));
    const grad = tf.grad(loss)(a);
    const g = grad.dataSync();
    const base = a.dataSync();
    for (const index of [0, 7, 23]) {
      const h = 1e-2;
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[index]! += h;
      minus[index]! -= h;
      const fd = tf.tidy(
        () =>
          (loss(tf.tensor(plus, [6, 4])).dataSync()[0]! -
            loss(tf.tensor(minus, [6, 4])).dataSync()[0]!) /
          (2 * h),
      );
      expect(Math.abs(fd - g[index]!)).toBeLessThan(1e-2 * Math.max(1, Math.abs(g[index]!)));
    }
    tf.dispose([a, b, grad]);
  });

  const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;
  // Stock wasm 4.22 _FusedMatMul adds the bias wrongly when the batch is > 1 (measured max error
  // 1.7 on [2,8,8]·[8,8]), so batch 2 is checked against cpu only, batch 1 against both.
  const FUSED_CASES = ACTIVATIONS.flatMap((activation) => [
    { activation, bt: 1 },
    { activation, bt: 2 },
  ]);
  it.each(FUSED_CASES)(
    '_FusedMatMul, batch $bt, bias and $activation matches cpu (and stock wasm at batch 1)',
    async ({ activation, bt }) => {
      const [m, k, n] = [7, 33, 5];
      const aData = seeded(31, bt * m * k);
      const bData = seeded(32, k * n);
      const biasData = seeded(33, n);
      const alphaData = seeded(34, n).map((x) => Math.abs(x) * 0.5);
      const op = (): tf.Tensor =>
        tf.fused.matMul({
          a: tf.tensor(aData, [bt, m, k]),
          b: tf.tensor(bData, [k, n]),
          bias: tf.tensor(biasData, [n]),
          activation,
          ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor(alphaData, [n]) } : {}),
          ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.3 } : {}),
        });
      const backend = tf.backend() as unknown as { numDataIds(): number };
      const idsBefore = backend.numDataIds();
      const blas = await runOn('wasm', () => tf.tidy(op));
      expect(backend.numDataIds()).toBe(idsBefore); // epilogue intermediates freed
      const cpu = await runOn('cpu', () => tf.tidy(op));
      expect(relativeError(blas.data, cpu.data)).toBeLessThan(1e-4);
      if (bt > 1) return;
      disableWasmBlas();
      try {
        const stock = await runOn('wasm', () => tf.tidy(op));
        expect(relativeError(blas.data, stock.data)).toBeLessThan(1e-4);
      } finally {
        enableWasmBlas();
      }
    },
  );

  it('2-layer MLP gradients are the same with the engine on and off', () => {
    const x = tf.tensor(seeded(41, 16 * 7), [16, 7]);
    const params = [
      tf.tensor(seeded(42, 7 * 33), [7, 33]),
      tf.tensor(seeded(43, 33), [33]),
      tf.tensor(seeded(44, 33 * 5), [33, 5]),
    ];
    const lossOf = (w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor): tf.Scalar =>
      tf.mean(tf.square(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2)));
    const gradsNow = (): Float32Array[] =>
      tf.tidy(() =>
        tf
          .grads((w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor) => lossOf(w1, b1, w2))(params)
          .map((g) => Float32Array.from(g.dataSync())),
      );
    const before = tf.memory().numTensors;
    const on = gradsNow();
    disableWasmBlas();
    const off = gradsNow();
    enableWasmBlas();
    expect(tf.memory().numTensors).toBe(before);
    on.forEach((g, i) => expect(relativeError(g, off[i]!)).toBeLessThan(1e-4));
    tf.dispose([x, ...params]);
  });

  it('declines non-float32 and products below minFlops to the stock kernel', () => {
    enableWasmBlas({ minFlops: 1e9 });
    const a = tf.tensor(seeded(51, 12), [3, 4]);
    const b = tf.tensor(seeded(52, 20), [4, 5]);
    const small = tf.matMul(a, b);
    expect(
      relativeError(
        small.dataSync(),
        oracle(
          a.dataSync() as Float32Array,
          [3, 4],
          b.dataSync() as Float32Array,
          [4, 5],
          false,
          false,
        ).data,
      ),
    ).toBeLessThan(1e-4);
    enableWasmBlas({ minFlops: 0 });
    // int32 goes to the stock kernel, which rejects it with its own message.
    const ints = [tf.cast(a, 'int32'), tf.cast(b, 'int32')] as const;
    expect(() => tf.matMul(ints[0], ints[1])).toThrow(/non-float32/);
    tf.dispose([a, b, small, ...ints]);
  });
});

describe('enable / disable / status', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });
  const covrlBlas = process.env['COVRL_BLAS'];
  afterEach(() => {
    if (covrlBlas === undefined) delete process.env['COVRL_BLAS'];
    else process.env['COVRL_BLAS'] = covrlBlas;
    disableWasmBlas();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('COVRL_BLAS=0 keeps the stock kernels and says why (runs with or without nblas)', () => {
    process.env['COVRL_BLAS'] = '0';
    const status = enableWasmBlas();
    expect(status.active).toBe(false);
    expect(status.reason).toMatch(/COVRL_BLAS=0/);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockBatchMatMul);
    expect(tf.getKernel('_FusedMatMul', 'wasm').kernelFunc).toBe(stockFusedMatMul);
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 4]));
    expect([...y.dataSync()]).toEqual(new Array(8).fill(3));
    y.dispose();
  });

  it('forceUnavailable keeps the stock kernels, and disables an active engine', () => {
    delete process.env['COVRL_BLAS']; // restored after the test
    enableWasmBlas();
    const status = enableWasmBlas({ forceUnavailable: true });
    expect(status).toMatchObject({
      active: false,
      reason: expect.stringMatching(/forceUnavailable/),
    });
    expect(wasmBlasStatus().active).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockBatchMatMul);
    expect(tf.getKernel('_FusedMatMul', 'wasm').kernelFunc).toBe(stockFusedMatMul);
  });

  it('rejects bad options with the function name in the message', () => {
    expect(() => enableWasmBlas({ threads: 0 })).toThrow(/enableWasmBlas: threads/);
    expect(() => enableWasmBlas({ minFlops: -1 })).toThrow(/enableWasmBlas: minFlops/);
    expect(() => enableWasmBlas({ minProbeGflops: Number.NaN })).toThrow(/minProbeGflops/);
  });

  it('an impossible probe threshold refuses to activate unless allowReferenceBlas', () => {
    const refused = enableWasmBlas({ minProbeGflops: 1e9 });
    expect(refused.active).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockBatchMatMul);
    if (blasHere) {
      expect(refused.reason).toMatch(/GFLOP\/s < 1000000000.*allowReferenceBlas/);
      expect(enableWasmBlas({ minProbeGflops: 1e9, allowReferenceBlas: true }).active).toBe(true);
    }
  });

  it.skipIf(!blasHere)('enable and disable are idempotent and restore the original kernels', () => {
    const first = enableWasmBlas();
    const installed = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
    const installedFused = tf.getKernel('_FusedMatMul', 'wasm').kernelFunc;
    expect(installed).not.toBe(stockBatchMatMul);
    expect(installedFused).not.toBe(stockFusedMatMul);
    const second = enableWasmBlas();
    expect(second.active && first.active).toBe(true);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(installed);
    expect(second.blas?.kind).toBe('optimized');
    expect(second.blas?.library).toMatch(/blas/i);
    const environment = ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'GOTO_NUM_THREADS'];
    if (environment.every((name) => process.env[name] === undefined)) {
      expect(second.blas?.threads).toBe(1); // the default, see DEFAULT_THREADS
      expect(process.env['OPENBLAS_NUM_THREADS']).toBeUndefined(); // set for the load only
    }
    expect(wasmBlasStatus()).toEqual(second);
    const later = enableWasmBlas({ threads: (second.blas?.threads ?? 1) + 2 });
    expect(later.active).toBe(true);
    expect(later.reason).toMatch(/not applied: the BLAS was already loaded/);
    disableWasmBlas();
    const again = disableWasmBlas();
    expect(again.active).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockBatchMatMul);
    expect(tf.getKernel('_FusedMatMul', 'wasm').kernelFunc).toBe(stockFusedMatMul);
  });

  it.skipIf(!blasHere)(
    'says so when the wasm kernels are not registered, and registers nothing',
    () => {
      const config = tf.getKernel('BatchMatMul', 'wasm');
      tf.unregisterKernel('BatchMatMul', 'wasm');
      try {
        const status = enableWasmBlas();
        expect(status.active).toBe(false);
        expect(status.reason).toMatch(/import @tensorflow\/tfjs-backend-wasm/);
        expect(tf.getKernel('BatchMatMul', 'wasm')).toBeUndefined();
        expect(tf.getKernel('_FusedMatMul', 'wasm').kernelFunc).toBe(stockFusedMatMul);
      } finally {
        tf.registerKernel(config);
      }
    },
  );

  it.skipIf(blasHere)(
    'without a usable BLAS, enableWasmBlas reports why and changes nothing',
    () => {
      const status = enableWasmBlas();
      expect(status.active).toBe(false);
      expect(status.reason.length).toBeGreaterThan(0);
      expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc).toBe(stockBatchMatMul);
    },
  );
});

function transpose(data: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r += 1)
    for (let c = 0; c < cols; c += 1) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
