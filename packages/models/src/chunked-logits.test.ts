import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { chunkedTargetLogProbs } from './chunked-logits.js';
import { targetLogProbs } from './layers.js';
import { createCausalLM } from './model.js';
import { computeGradients } from './optim/gradients.js';
import { createRng } from './rng.js';
import { tinyGpt2Config, tinyLlamaConfig, withWasmCustomGradSaves } from './testing/index.js';

function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.normal() * std),
    shape,
  );
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

describe('chunkedTargetLogProbs', () => {
  it.each([
    [1, 1],
    [3, 1],
    [7, 0.7],
    [64, 1.3],
  ])('rows %d, temperature %d: same values and gradients as the unchunked op', async (rows, tau) =>
    withWasmCustomGradSaves(async () => {
      const R = 11;
      const D = 6;
      const V = 37;
      const h = randn([R, D], 1) as tf.Tensor2D;
      const w = randn([D, V], 2, 0.8) as tf.Tensor2D;
      const targets = Int32Array.from({ length: R }, (_, i) => (i * 7 + 3) % V);
      const dy = randn([R], 3);
      const weighted = (f: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D), dy)),
        )([h, w]);
      const reference = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor =>
        targetLogProbs(tf.div(tf.matMul(a, b), tau), tf.tensor1d(targets, 'int32'));
      const chunked = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor =>
        chunkedTargetLogProbs(a, b, targets, { rows, temperature: tau });
      const v0 = await reference(h, w).data();
      const v1 = await chunked(h, w).data();
      expect(maxAbsDiff(v1, v0)).toBeLessThan(1e-5);
      const [gh0, gw0] = weighted(reference);
      const [gh1, gw1] = weighted(chunked);
      expect(
        maxAbsDiff(await (gh1 as tf.Tensor).data(), await (gh0 as tf.Tensor).data()),
      ).toBeLessThan(1e-5);
      expect(
        maxAbsDiff(await (gw1 as tf.Tensor).data(), await (gw0 as tf.Tensor).data()),
      ).toBeLessThan(1e-5);
      tf.dispose([h, w, dy, gh0, gw0, gh1, gw1] as tf.Tensor[]);
    }),
  );

  it.each([['flags'], ['transpose']] as const)(
    'a [V, D] head (tied embedding, %s mode) gives the same values and gradients; a frozen head gets none',
    async (mode) =>
      withWasmCustomGradSaves(async () => {
        const R = 9;
        const D = 5;
        const V = 23;
        const h = randn([R, D], 4) as tf.Tensor2D;
        const e = randn([V, D], 5, 0.7) as tf.Tensor2D;
        const targets = Int32Array.from({ length: R }, (_, i) => (i * 5 + 1) % V);
        const ref = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
          targetLogProbs(tf.matMul(a, b, false, true), tf.tensor1d(targets, 'int32'));
        const tr = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
          chunkedTargetLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, targets, {
            rows: 4,
            mode,
            headTransposed: true,
          });
        const g0 = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(ref(a, b)))([h, e]);
        const g1 = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tr(a, b)))([h, e]);
        expect(maxAbsDiff(await tr(h, e).data(), await ref(h, e).data())).toBeLessThan(1e-5);
        for (let k = 0; k < 2; k++) {
          expect(
            maxAbsDiff(await (g1[k] as tf.Tensor).data(), await (g0[k] as tf.Tensor).data()),
          ).toBeLessThan(1e-5);
        }
        // Frozen head: only h is an input; same dh.
        const frozen = tf.grad((a: tf.Tensor) =>
          tf.sum(
            chunkedTargetLogProbs(a as tf.Tensor2D, e, targets, {
              rows: 4,
              mode,
              headTransposed: true,
              headGradient: false,
            }),
          ),
        )(h);
        expect(maxAbsDiff(await frozen.data(), await (g0[0] as tf.Tensor).data())).toBeLessThan(
          1e-5,
        );
        tf.dispose([h, e, frozen, ...g0, ...g1]);
      }),
  );

  it('refuses out-of-range targets and bad options by name', () => {
    const h = tf.zeros([2, 3]) as tf.Tensor2D;
    const w = tf.zeros([3, 5]) as tf.Tensor2D;
    expect(() => chunkedTargetLogProbs(h, w, Int32Array.from([0, 5]))).toThrow(/targets\[1\] = 5/);
    expect(() => chunkedTargetLogProbs(h, w, Int32Array.from([0]))).toThrow(/1 targets for 2 rows/);
    expect(() => chunkedTargetLogProbs(h, w, Int32Array.from([0, 1]), { rows: 0 })).toThrow(
      /options\.rows/,
    );
    tf.dispose([h, w]);
  });
});

describe('scoreTokens in row chunks', () => {
  const sequences = [
    [1, 5, 3, 7, 2, 9, 4],
    [4, 4, 8, 0, 11],
  ];
  const spans = {
    answer: [
      { start: 2, length: 5 },
      { start: 1, length: 4 },
    ],
    all: [
      { start: 1, length: 6 },
      { start: 1, length: 4 },
    ],
  };
  it.each([
    ['llama untied', tinyLlamaConfig({ initStd: 0.3 }), false],
    ['gpt2 tied', tinyGpt2Config({ initStd: 0.3 }), false],
    [
      'llama tied + LoRA (frozen head)',
      tinyLlamaConfig({ initStd: 0.3, tieEmbeddings: true }),
      true,
    ],
  ])('%s: chunked scoring equals unchunked (values and gradients)', async (_name, config, lora) =>
    withWasmCustomGradSaves(async () => {
      const run = async (chunk: number | undefined) => {
        const model = createCausalLM(config, {
          seed: 4,
          ...(chunk === undefined ? {} : { logitsChunkElements: chunk }),
        });
        if (lora) {
          const a = model.addLora({ r: 2, loraAlpha: 4, targetModules: 'all-linear' }, { seed: 1 });
          for (const [n, v] of a.variables()) {
            if (n.includes('.B')) {
              tf.tidy(() => v.assign(tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 2), 0.2)));
            }
          }
        }
        const { loss, grads } = computeGradients(model, () =>
          tf.tidy(() => {
            const s = model.scoreTokens({ sequences, spans, temperature: 0.8 });
            return tf.add(
              tf.sum(s.answer.logProbs),
              tf.mul(tf.sum(s.all.logProbs), 0.5),
            ) as tf.Scalar;
          }),
        );
        const values: Record<string, Float32Array> = {};
        for (const [n, g] of Object.entries(grads)) values[n] = (await g.data()) as Float32Array;
        tf.dispose(Object.values(grads));
        model.dispose();
        return { loss, values };
      };
      const whole = await run(undefined);
      // 3·V elements: chunks of 3 rows over the 10 scored positions (4 chunks, the last short).
      const chunked = await run(3 * config.vocabSize);
      expect(Math.abs(chunked.loss - whole.loss)).toBeLessThan(1e-4);
      for (const [n, g] of Object.entries(whole.values)) {
        expect(maxAbsDiff(chunked.values[n] as Float32Array, g), n).toBeLessThan(1e-5);
      }
    }),
  );

  // The cpu backend takes about 1 µs per element of these [rows, 151 936] kernels: the sizes are
  // kept small, and the chunk sizes forced small, so that the bound is still visible.
  it('keeps the memory of log-probs and their gradient bounded at V = 151 936 (Qwen vocabulary)', async () =>
    withWasmCustomGradSaves(async () => {
      const V = 151936;
      const D = 2;
      const w = tf.variable(randn([D, V], 2, 0.1) as tf.Tensor2D);
      const peak = async (R: number, rows: number): Promise<number> => {
        const h = tf.variable(randn([R, D], 1) as tf.Tensor2D);
        const targets = Int32Array.from({ length: R }, (_, i) => (i * 104729) % V);
        const before = tf.memory().numBytes;
        const info = await tf.profile(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.neg(tf.sum(chunkedTargetLogProbs(h, w, targets, { rows }))) as tf.Scalar,
            [h, w],
          );
          tf.dispose([value, ...Object.values(grads)]);
        });
        expect(tf.memory().numBytes).toBe(before);
        h.dispose();
        return info.peakBytes - before;
      };
      const R = 16;
      const fullLogits = R * V * 4; // one [R, V] float32 copy: 9.7 MB
      const whole = await peak(R, R);
      const chunked = await peak(R, 2);
      const chunkedHalf = await peak(R / 2, 2);
      // Unchunked: several [R, V] copies alive at once. 2-row chunks: a few [2, V] blocks and dW,
      // the same whatever R (only the [R, D] input gradient grows).
      expect(whole).toBeGreaterThan(2 * fullLogits);
      expect(chunked).toBeLessThan(whole / 4);
      expect(chunked).toBeLessThan(chunkedHalf * 1.05);
      w.dispose();
    }));

  it('scores a model with V = 151 936 in chunks with memory below one logits copy', async () => {
    const V = 151936;
    const model = createCausalLM(
      tinyLlamaConfig({
        vocabSize: V,
        dModel: 4,
        nHeads: 2,
        nKvHeads: 1,
        dFf: 8,
        nLayers: 1,
        maxContext: 64,
        tieEmbeddings: true,
      }),
      { seed: 0, logitsChunkElements: 4 * V },
    );
    const seqs = [Array.from({ length: 40 }, (_, t) => (t * 104729) % V)];
    const sp = { answer: [{ start: 1, length: 39 }] };
    const before = tf.memory().numBytes;
    let total = 0;
    const info = await tf.profile(() => {
      const s = model.scoreTokens({ sequences: seqs, spans: sp }).answer;
      const sum = tf.sum(s.logProbs);
      total = sum.dataSync()[0] ?? NaN;
      sum.dispose();
      tf.dispose([s.logProbs, s.mask]);
    });
    expect(Number.isFinite(total)).toBe(true);
    // 4-row chunks (2.4 MB, a few alive) and the transposed tied head (V·D floats, 2.4 MB)
    // against 23.7 MB for one copy of the logits.
    expect(info.peakBytes - before).toBeLessThan(39 * V * 4);
    expect(tf.memory().numBytes).toBe(before);
    model.dispose();
  });
});

describe('on-device sampling at V = 150 000', () => {
  it('draws the same ids and log-probs as the host path with top-k and top-p', async () => {
    const config = tinyLlamaConfig({
      vocabSize: 150000,
      dModel: 8,
      nHeads: 2,
      nKvHeads: 1,
      dFf: 8,
      nLayers: 1,
      initStd: 0.5,
    });
    const device = createCausalLM(config, { seed: 5, deviceSamplingMinVocab: 0 });
    const host = createCausalLM(config, { seed: 5, deviceSamplingMinVocab: Infinity });
    const request = {
      prompts: [[1, 149999, 3], [70000]],
      maxNewTokens: 5,
      temperature: 0.9,
      topK: 50,
      topP: 0.9,
      seeds: [1, 2],
      returnLogProbs: true,
    };
    const a = await device.generate(request);
    const b = await host.generate(request);
    expect(a.map((r) => r.ids)).toEqual(b.map((r) => r.ids));
    a.forEach((row, i) => {
      expect(row.ids.length).toBe(5);
      expect(row.ids.every((id) => id >= 0 && id < 150000)).toBe(true);
      const lp = b[i]?.logProbs ?? [];
      (row.logProbs ?? []).forEach((v, t) =>
        expect(Math.abs(v - (lp[t] as number))).toBeLessThan(1e-4),
      );
    });
    device.dispose();
    host.dispose();
  });
});
