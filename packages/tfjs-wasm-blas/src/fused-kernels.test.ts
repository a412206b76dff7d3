import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FUSED_KERNEL_NAMES,
  disableWasmFusedKernels,
  enableWasmFusedKernels,
  wasmFusedKernelsStatus,
} from './fused-kernels.js';
import { seededUniform } from './testing/index.js';
import { FUSED_KERNELS_SOURCE_SHA256, FUSED_KERNELS_WASM_BASE64 } from './fused-kernels-wasm.js';

/** The `WebAssembly` global as far as used here (the project's lib settings have no DOM types). */
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      Module: {
        new (bytes: Uint8Array): object;
        imports(module: object): { module: string; name: string; kind: string }[];
        exports(module: object): { name: string; kind: string }[];
      };
    };
  }
).WebAssembly;

const seeded = seededUniform;

const GELU_C = 2 * Math.sqrt(2 / Math.PI);

/** Float64 oracles, written as plain loops over the formulas the C file documents. */
const oracle = {
  gelu: (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  geluGrad(x: number): number {
    const s = 1 / (1 + Math.exp(-GELU_C * x * (1 + 0.044715 * x * x)));
    return s + x * s * (1 - s) * GELU_C * (1 + 3 * 0.044715 * x * x);
  },
  sigmoid: (z: number) => 1 / (1 + Math.exp(-z)),
  /** Per row of d: LayerNorm forward and backward. */
  layerNorm(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array,
    dy: Float32Array,
    d: number,
    eps: number,
  ) {
    const rows = x.length / d;
    const y = new Float64Array(x.length);
    const dx = new Float64Array(x.length);
    const dw = new Float64Array(d);
    const db = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[r * d + j]!;
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[r * d + j]! - mu) ** 2;
      const rs = 1 / Math.sqrt(v / d + eps);
      let mg = 0;
      let mgx = 0;
      for (let j = 0; j < d; j++) {
        const xh = (x[r * d + j]! - mu) * rs;
        y[r * d + j] = xh * w[j]! + b[j]!;
        const g = dy[r * d + j]! * w[j]!;
        mg += g / d;
        mgx += (g * xh) / d;
        dw[j]! += dy[r * d + j]! * xh;
        db[j]! += dy[r * d + j]!;
      }
      for (let j = 0; j < d; j++) {
        const xh = (x[r * d + j]! - mu) * rs;
        dx[r * d + j] = rs * (dy[r * d + j]! * w[j]! - mg - xh * mgx);
      }
    }
    return { y, dx, dw, db };
  },
  rmsNorm(x: Float32Array, w: Float32Array, dy: Float32Array, d: number, eps: number) {
    const rows = x.length / d;
    const y = new Float64Array(x.length);
    const dx = new Float64Array(x.length);
    const dw = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      let ms = 0;
      for (let j = 0; j < d; j++) ms += x[r * d + j]! ** 2 / d;
      const rs = 1 / Math.sqrt(ms + eps);
      let mgx = 0;
      for (let j = 0; j < d; j++) {
        const xh = x[r * d + j]! * rs;
        y[r * d + j] = xh * w[j]!;
        mgx += (dy[r * d + j]! * w[j]! * xh) / d;
        dw[j]! += dy[r * d + j]! * xh;
      }
      for (let j = 0; j < d; j++) {
        dx[r * d + j] = rs * (dy[r * d + j]! * w[j]! - x[r * d + j]! * rs * mgx);
      }
    }
    return { y, dx, dw };
  },
};

/** max |a − b| / max(1, max |b|): relative to the scale of the reference. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 1;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor[] => {
  const out = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
};

let previousBackend: string;
beforeAll(async () => {
  previousBackend = tf.getBackend();
  await tf.setBackend('wasm');
  expect(enableWasmFusedKernels().active).toBe(true);
});
afterAll(async () => {
  disableWasmFusedKernels();
  await tf.setBackend(previousBackend);
});

describe('the embedded WebAssembly module', () => {
  const bytes = Buffer.from(FUSED_KERNELS_WASM_BASE64, 'base64');

  it('was built from the C source in the repository (run npm run build:wasm after editing it)', () => {
    const source = readFileSync(new URL('../native/fused-kernels.c', import.meta.url));
    expect(createHash('sha256').update(source).digest('hex')).toBe(FUSED_KERNELS_SOURCE_SHA256);
  });

  it('imports only the backend memory and has no data segment to write into it', () => {
    const module = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([
      { module: 'env', name: 'memory', kind: 'memory' },
    ]);
    // Walk the section headers: id 11 is the data section, 12 the data count.
    const ids: number[] = [];
    let at = 8;
    while (at < bytes.length) {
      const id = bytes[at]!;
      at += 1;
      let size = 0;
      let shift = 0;
      for (;;) {
        const byte = bytes[at]!;
        at += 1;
        size |= (byte & 0x7f) << shift;
        shift += 7;
        if ((byte & 0x80) === 0) break;
      }
      ids.push(id);
      at += size;
    }
    expect(at).toBe(bytes.length);
    expect(ids).not.toContain(11);
    expect(ids).not.toContain(12);
    expect(WebAssembly.Module.exports(module).map((e) => e.name)).toEqual(
      expect.arrayContaining(['adamw', 'gelu', 'layer_norm', 'layer_norm_grad', 'rms_norm']),
    );
  });
});

describe('fused kernels against float64 oracles (odd sizes exercise the SIMD tails)', () => {
  it.each([1, 3, 4, 7, 129, 1000])('CovrlGelu and CovrlGeluGrad, n = %i', (n) => {
    const x = seeded(n, n, 6);
    const dy = seeded(n + 1, n);
    const [y, dx] = tf.tidy(() => {
      const xt = tf.tensor1d(x);
      return [
        run('CovrlGelu', { x: xt })[0]!.dataSync(),
        run('CovrlGeluGrad', { dy: tf.tensor1d(dy), x: xt })[0]!.dataSync(),
      ];
    });
    expect(relErr(y!, Array.from(x, oracle.gelu))).toBeLessThan(2e-6);
    expect(
      relErr(
        dx!,
        Array.from(x, (v, i) => dy[i]! * oracle.geluGrad(v)),
      ),
    ).toBeLessThan(2e-6);
  });

  it('CovrlGelu propagates NaN (so a NaN guard downstream still sees it)', () => {
    const y = tf.tidy(() =>
      run('CovrlGelu', { x: tf.tensor1d([NaN, 1, NaN, 2, NaN]) })[0]!.dataSync(),
    );
    expect(Array.from(y).map(Number.isNaN)).toEqual([true, false, true, false, true]);
  });

  it('CovrlGelu saturates without NaN for large |x|', () => {
    const x = new Float32Array([-200, -90, -30, 0, 30, 90, 200]);
    const y = tf.tidy(() => run('CovrlGelu', { x: tf.tensor1d(x) })[0]!.dataSync());
    expect(Array.from(y)).toEqual([-0, -0, -0, 0, 30, 90, 200].map((v) => expect.closeTo(v, 6)));
    expect(Array.from(y).every(Number.isFinite)).toBe(true);
  });

  it.each([1, 5, 64, 131])('CovrlSiluGate and its gradient, n = %i', (n) => {
    const g = seeded(2 * n, n, 5);
    const u = seeded(2 * n + 1, n);
    const dy = seeded(2 * n + 2, n);
    const [y, dg, du] = tf.tidy(() => {
      const gt = tf.tensor1d(g);
      const ut = tf.tensor1d(u);
      const grads = run('CovrlSiluGateGrad', { dy: tf.tensor1d(dy), gate: gt, up: ut });
      return [
        run('CovrlSiluGate', { gate: gt, up: ut })[0]!.dataSync(),
        grads[0]!.dataSync(),
        grads[1]!.dataSync(),
      ];
    });
    const s = Array.from(g, oracle.sigmoid);
    expect(
      relErr(
        y!,
        Array.from(g, (v, i) => v * s[i]! * u[i]!),
      ),
    ).toBeLessThan(2e-6);
    const dSilu = s.map((si, i) => si * (1 + g[i]! * (1 - si)));
    expect(
      relErr(
        dg!,
        dSilu.map((v, i) => dy[i]! * u[i]! * v),
      ),
    ).toBeLessThan(2e-6);
    expect(
      relErr(
        du!,
        Array.from(g, (v, i) => dy[i]! * v * s[i]!),
      ),
    ).toBeLessThan(2e-6);
  });

  it.each([
    [1, 1],
    [3, 5],
    [7, 128],
    [33, 130],
  ])('CovrlLayerNorm and CovrlLayerNormGrad, [%i, %i]', (rows, d) => {
    const x = seeded(rows * d, rows * d, 3);
    const w = seeded(d, d);
    const b = seeded(d + 1, d);
    const dy = seeded(rows + d, rows * d);
    const ref = oracle.layerNorm(x, w, b, dy, d, 1e-5);
    const [y, dx, dw, db] = tf.tidy(() => {
      const xt = tf.tensor2d(x, [rows, d]);
      const wt = tf.tensor1d(w);
      const grads = run(
        'CovrlLayerNormGrad',
        { dy: tf.tensor2d(dy, [rows, d]), x: xt, weight: wt },
        { epsilon: 1e-5 },
      );
      expect(grads[1]!.shape).toEqual([d]);
      return [
        run(
          'CovrlLayerNorm',
          { x: xt, weight: wt, bias: tf.tensor1d(b) },
          { epsilon: 1e-5 },
        )[0]!.dataSync(),
        ...grads.map((t) => t.dataSync()),
      ];
    });
    expect(relErr(y!, ref.y)).toBeLessThan(1e-5);
    expect(relErr(dx!, ref.dx)).toBeLessThan(1e-5);
    expect(relErr(dw!, ref.dw)).toBeLessThan(1e-5);
    expect(relErr(db!, ref.db)).toBeLessThan(1e-5);
  });

  it.each([
    [2, 3],
    [5, 64],
    [9, 67],
  ])('CovrlRmsNorm and CovrlRmsNormGrad on rank 3, [1, %i, %i]', (rows, d) => {
    const x = seeded(rows * d + 7, rows * d, 2);
    const w = seeded(d + 3, d);
    const dy = seeded(rows - d, rows * d);
    const ref = oracle.rmsNorm(x, w, dy, d, 1e-6);
    const [y, dx, dw] = tf.tidy(() => {
      const xt = tf.tensor3d(x, [1, rows, d]);
      const wt = tf.tensor1d(w);
      const grads = run(
        'CovrlRmsNormGrad',
        { dy: tf.tensor3d(dy, [1, rows, d]), x: xt, weight: wt },
        { epsilon: 1e-6 },
      );
      return [
        run('CovrlRmsNorm', { x: xt, weight: wt }, { epsilon: 1e-6 })[0]!.dataSync(),
        ...grads.map((t) => t.dataSync()),
      ];
    });
    expect(relErr(y!, ref.y)).toBeLessThan(1e-5);
    expect(relErr(dx!, ref.dx)).toBeLessThan(1e-5);
    expect(relErr(dw!, ref.dw)).toBeLessThan(1e-5);
  });

  it.each([
    [1, false],
    [6, true],
    [1027, true],
  ])('CovrlAdamW (n = %i, decay %s) is bit-identical to the unfused float32 ops', (n, decay) => {
    const p = seeded(n, n);
    const g = seeded(n + 1, n, 0.1);
    const m = seeded(n + 2, n, 0.01);
    const v = Float32Array.from(seeded(n + 3, n, 1e-3), Math.abs);
    const [beta1, beta2, stepSize, epsHat, lrDecay] = [0.9, 0.95, 3e-4, 1e-8 * 0.3, 1 - 3e-4 * 0.1];
    const [fused, plain] = tf.tidy(() => {
      const [pt, gt, mt, vt] = [p, g, m, v].map((a) => tf.tensor1d(a)) as tf.Tensor1D[];
      const out = run(
        'CovrlAdamW',
        { param: pt!, grad: gt!, m: mt!, v: vt! },
        { beta1, beta2, stepSize, epsHat, decay: lrDecay, applyDecay: decay },
      );
      // The ops of @covrl/models' unfused AdamW, in the same order.
      const m1 = tf.add(tf.mul(mt!, beta1), tf.mul(gt!, 1 - beta1));
      const v1 = tf.add(tf.mul(vt!, beta2), tf.mul(tf.mul(gt!, gt!), 1 - beta2));
      const base = decay ? tf.mul(pt!, lrDecay) : pt!;
      const p1 = tf.sub(base, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), epsHat)), stepSize));
      return [
        out.map((t) => Array.from(t.dataSync())),
        [p1, m1, v1].map((t) => Array.from(t.dataSync())),
      ];
    });
    expect(fused).toEqual(plain);
  });

  it('keeps working after the heap grows (it addresses the one memory, never a stale view)', () => {
    const x = seeded(5, 1001, 2);
    const before = tf.tidy(() => run('CovrlGelu', { x: tf.tensor1d(x) })[0]!.dataSync());
    const big = tf.zeros([(64 * 1024 * 1024) / 4 + 123]); // forces the wasm memory to grow
    const after = tf.tidy(() => run('CovrlGelu', { x: tf.tensor1d(x) })[0]!.dataSync());
    big.dispose();
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('leaks no tensor and no heap bytes', () => {
    const x = tf.tensor2d(seeded(1, 64), [8, 8]);
    const w = tf.ones([8]);
    const b = tf.zeros([8]);
    const before = tf.memory();
    for (let i = 0; i < 3; i++) {
      tf.dispose(run('CovrlLayerNorm', { x, weight: w, bias: b }, { epsilon: 1e-5 }));
      tf.dispose(run('CovrlLayerNormGrad', { dy: x, x, weight: w }, { epsilon: 1e-5 }));
      tf.dispose(
        run(
          'CovrlAdamW',
          { param: x, grad: x, m: x, v: x },
          {
            beta1: 0.9,
            beta2: 0.99,
            stepSize: 1e-3,
            epsHat: 1e-8,
            decay: 1,
            applyDecay: false,
          },
        ),
      );
    }
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    tf.dispose([x, w, b]);
  });

  it('rejects bad inputs with the kernel and input named', () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    expect(() =>
      run('CovrlLayerNorm', { x, weight: tf.ones([3]), bias: tf.ones([3]) }, { epsilon: 1e-5 }),
    ).toThrow(/CovrlLayerNorm: 'weight' must have shape \[2\]/);
    expect(() => run('CovrlGelu', { x: tf.tensor1d([1, 2], 'int32') })).toThrow(
      /CovrlGelu: input 'x' must be float32/,
    );
    expect(() => run('CovrlGeluGrad', { dy: tf.ones([3]), x: tf.ones([2]) })).toThrow(
      /CovrlGeluGrad: 'dy' has shape \[3\]/,
    );
    expect(() =>
      run('CovrlLayerNorm', { x, weight: tf.ones([2]), bias: tf.ones([2]) }, {}),
    ).toThrow(/attr 'epsilon' must be a finite number/);
    x.dispose();
  });
});

describe('CovrlKvWrite', () => {
  it('writes update[b, h, :] at cache[b, h, position, :] in place and aliases the cache', () => {
    const [B, H, T, hd] = [2, 3, 4, 5];
    const cache = tf.zeros([B, H, T, hd]) as tf.Tensor4D;
    const update = tf.tensor2d(seeded(9, B * H * hd), [B, H * hd]);
    const before = tf.memory().numDataBuffers;
    const out = run('CovrlKvWrite', { cache, update }, { position: 2 })[0]!;
    expect(tf.memory().numDataBuffers).toBe(before); // no new block: the cache itself changed
    expect(out.shape).toEqual([B, H, T, hd]);
    const got = cache.arraySync();
    const u = update.arraySync();
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const want = t === 2 ? u[b]!.slice(h * hd, (h + 1) * hd) : new Array<number>(hd).fill(0);
          expect(got[b]![h]![t]).toEqual(want);
        }
      }
    }
    expect(out.arraySync()).toEqual(got);
    tf.dispose([cache, update, out]);
  });

  it('refuses a cache shared with a clone or a view, which would change under its holder', () => {
    const cache = tf.zeros([1, 1, 2, 2]) as tf.Tensor4D;
    const clone = tf.clone(cache);
    const update = tf.ones([1, 2]);
    expect(() => run('CovrlKvWrite', { cache, update }, { position: 0 })).toThrow(
      /CovrlKvWrite: the cache's memory is shared by 2 tensors/,
    );
    clone.dispose();
    const view = tf.reshape(cache, [1, 4]);
    expect(() => run('CovrlKvWrite', { cache, update }, { position: 0 })).toThrow(/shared by 2/);
    view.dispose();
    tf.dispose(run('CovrlKvWrite', { cache, update }, { position: 1 }));
    expect(Array.from(cache.dataSync())).toEqual([0, 0, 1, 1]);
    tf.dispose([cache, update]);
  });

  it('writes one value per row into a [B, T] cache (an additive key bias)', () => {
    const bias = tf.fill([3, 4], -1e9) as tf.Tensor2D;
    tf.dispose(run('CovrlKvWrite', { cache: bias, update: tf.zeros([3]) }, { position: 2 }));
    expect(bias.arraySync()).toEqual([0, 1, 2].map(() => [-1e9, -1e9, 0, -1e9]));
    bias.dispose();
  });

  it('rejects a position outside the capacity and a wrong update size', () => {
    const cache = tf.zeros([1, 2, 3, 4]);
    expect(() => run('CovrlKvWrite', { cache, update: tf.zeros([1, 8]) }, { position: 3 })).toThrow(
      /CovrlKvWrite: attr 'position' must be an integer in \[0, 3\)/,
    );
    expect(() => run('CovrlKvWrite', { cache, update: tf.zeros([1, 7]) }, { position: 0 })).toThrow(
      /'update' must hold B·H·hd = 8 values/,
    );
    cache.dispose();
  });
});

describe('replaced stock kernels', () => {
  it('Identity shares the data block: a clone reads the same values and outlives its source', () => {
    const buffers = tf.memory().numDataBuffers;
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers - buffers).toBe(1); // one block, two tensors
    const heap = tf.backend() as unknown as { dataIdMap: { get(id: object): unknown } };
    expect(heap.dataIdMap.get(y.dataId)).toBe(heap.dataIdMap.get(x.dataId));
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffers);
    const source = tf.tensor1d(['a', 'b'], 'string');
    const s = tf.clone(source);
    expect(s.arraySync()).toEqual(['a', 'b']);
    tf.dispose([source, s]);
  });

  it('a clone of a variable keeps the old value after assign', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const c = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(c.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    tf.dispose([v, c]);
  });

  it.each([
    [[6, 5], 0, 'float32'],
    [[4, 3, 5], 1, 'int32'],
    [[4, 3, 5], -1, 'float32'],
    [[7], 0, 'bool'],
  ] as const)(
    'GatherV2 on %j along axis %i (%s) equals the cpu backend',
    async (shape, axis, dtype) => {
      const size = shape.reduce((p, s) => p * s, 1);
      const values = Array.from(seeded(size, size, 10), (v) =>
        dtype === 'bool' ? Number(v > 0) : Math.round(v),
      );
      const n = shape.at(axis)!;
      const indices = [n - 1, 0, 1, 0, n - 1, Math.floor(n / 2)];
      const onWasm = tf.tidy(() =>
        tf.gather(tf.tensor(values, [...shape], dtype), indices, axis).arraySync(),
      );
      await tf.setBackend('cpu');
      const onCpu = tf.tidy(() =>
        tf.gather(tf.tensor(values, [...shape], dtype), indices, axis).arraySync(),
      );
      await tf.setBackend('wasm');
      expect(onWasm).toEqual(onCpu);
    },
  );

  it('GatherV2 with 2-D indices and with batchDims > 0 (stock path) still agree with cpu', async () => {
    const x = Array.from({ length: 24 }, (_, i) => i);
    const idx = [
      [2, 0],
      [1, 1],
    ];
    const a = tf.tidy(() => [
      tf.gather(tf.tensor(x, [4, 6]), idx, 1).arraySync(),
      tf.gather(tf.tensor(x, [2, 12]), idx, 1, 1).arraySync(),
    ]);
    await tf.setBackend('cpu');
    const b = tf.tidy(() => [
      tf.gather(tf.tensor(x, [4, 6]), idx, 1).arraySync(),
      tf.gather(tf.tensor(x, [2, 12]), idx, 1, 1).arraySync(),
    ]);
    await tf.setBackend('wasm');
    expect(a).toEqual(b);
  });
});

describe('switching', () => {
  it('registers only the kernels asked for, and a new set replaces the old one', () => {
    const ourGather = tf.getKernel('GatherV2', 'wasm')!.kernelFunc;
    const status = enableWasmFusedKernels({ kernels: ['CovrlAdamW', 'Identity'] });
    expect(status.reason).toBe(
      'CovrlAdamW registered; Identity (zero-copy) replaced on the wasm backend',
    );
    expect(tf.getKernel('CovrlAdamW', 'wasm')).toBeDefined();
    expect(tf.getKernel('CovrlGelu', 'wasm')).toBeUndefined();
    expect(tf.getKernel('GatherV2', 'wasm')!.kernelFunc).not.toBe(ourGather); // back to the stock one
    expect(() => enableWasmFusedKernels({ kernels: ['CovrlNope' as 'CovrlAdamW'] })).toThrow(
      /unknown kernel 'CovrlNope'/,
    );
    expect(enableWasmFusedKernels().active).toBe(true);
    expect(FUSED_KERNEL_NAMES.every((name) => tf.getKernel(name, 'wasm') !== undefined)).toBe(true);
  });

  it('COVRL_FUSED=0 unregisters everything and restores the stock kernels', () => {
    const ours = tf.getKernel('Identity', 'wasm')!.kernelFunc;
    process.env['COVRL_FUSED'] = '0';
    let stock: tf.KernelFunc;
    try {
      const status = enableWasmFusedKernels();
      expect(status.active).toBe(false);
      expect(status.reason).toMatch(/COVRL_FUSED=0/);
      expect(wasmFusedKernelsStatus().active).toBe(false);
      for (const name of FUSED_KERNEL_NAMES) expect(tf.getKernel(name, 'wasm')).toBeUndefined();
      stock = tf.getKernel('Identity', 'wasm')!.kernelFunc;
      expect(stock).not.toBe(ours);
    } finally {
      delete process.env['COVRL_FUSED'];
    }
    expect(enableWasmFusedKernels().active).toBe(true);
    expect(tf.getKernel('Identity', 'wasm')!.kernelFunc).not.toBe(stock);
    expect(FUSED_KERNEL_NAMES.every((name) => tf.getKernel(name, 'wasm') !== undefined)).toBe(true);
    disableWasmFusedKernels();
    expect(tf.getKernel('Identity', 'wasm')!.kernelFunc).toBe(stock);
    expect(enableWasmFusedKernels().active).toBe(true);
  });
});
