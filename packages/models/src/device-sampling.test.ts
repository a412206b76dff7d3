import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_SAMPLING_MIN_VOCAB, sampleOnDevice } from './device-sampling.js';
import { sampleRows } from './generate.js';
import type { SamplingSettings } from './sampling-settings.js';
import { createCausalLM } from './model.js';
import { createRng } from './rng.js';
import { tinyGpt2Config, tinyLlamaConfig } from './testing/index.js';

const modes: [string, SamplingSettings][] = [
  ['greedy', { temperature: 0, topK: 0, topP: 1 }],
  ['temperature 1', { temperature: 1, topK: 0, topP: 1 }],
  ['temperature 0.7', { temperature: 0.7, topK: 0, topP: 1 }],
  ['top-k 3', { temperature: 1.3, topK: 3, topP: 1 }],
  ['top-k 1', { temperature: 1, topK: 1, topP: 1 }],
  ['top-k ≥ V', { temperature: 0.9, topK: 1000, topP: 1 }],
  ['top-p 0.8', { temperature: 1, topK: 0, topP: 0.8 }],
  ['top-p 0.05', { temperature: 0.8, topK: 0, topP: 0.05 }],
  ['top-k 5 + top-p 0.6', { temperature: 0.9, topK: 5, topP: 0.6 }],
];

/** `[B, V]` logits: normal rows, rows of few distinct values (many ties), a constant row. */
function logitRows(seed: number, B: number, V: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: V }, () => {
      if (b % 3 === 1) return Math.floor(rng.next() * 4) - 1; // ties
      if (b % 3 === 2 && b > 3) return 0.5; // all equal
      return 3 * rng.normal();
    }),
  );
}

/** Both paths on the same logits with generators of the same seeds. */
async function bothPaths(rows: number[][], settings: SamplingSettings, seed: number) {
  const logits = tf.tensor2d(rows);
  const rngsHost = rows.map((_, b) => createRng(seed + b));
  const rngsDevice = rows.map((_, b) => createRng(seed + b));
  const host = await sampleRows(logits, settings, rngsHost, false);
  const device = await sampleRows(logits, settings, rngsDevice, true);
  logits.dispose();
  return {
    host,
    device,
    hostStates: rngsHost.map((r) => r.getState()),
    deviceStates: rngsDevice.map((r) => r.getState()),
  };
}

describe.each(['cpu', 'wasm'])('sampleOnDevice equals the host path on %s', (backend) => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend(backend);
  });
  afterAll(async () => {
    await tf.setBackend(previous);
  });

  it.each(modes)('%s: same ids, log-probs within 1e-5, same random streams', async (_n, s) => {
    for (const [B, V] of [
      [7, 9],
      [9, 64],
      [6, 300],
    ] as const) {
      for (let step = 0; step < 4; step++) {
        const rows = logitRows(100 * V + step, B, V);
        const r = await bothPaths(rows, s, step * 1000);
        expect(r.device.ids).toEqual(r.host.ids);
        r.device.logProbs.forEach((lp, b) =>
          expect(Math.abs(lp - r.host.logProbs[b]!)).toBeLessThan(1e-5),
        );
        expect(r.deviceStates).toEqual(r.hostStates);
      }
    }
  });

  it('agrees on random tied logits and settings (property, fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 12, maxLength: 12 }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.double({ min: 0.3, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 14 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 1e6 }),
        async (ints, temperature, topK, topP, seed) => {
          // Half-integers over a small range: many ties, masses off exact topP boundaries.
          const rows = ints.map((r) => r.map((x) => x * 0.5));
          const r = await bothPaths(rows, { temperature, topK, topP }, seed);
          expect(r.device.ids).toEqual(r.host.ids);
          r.device.logProbs.forEach((lp, b) =>
            expect(Math.abs(lp - r.host.logProbs[b]!)).toBeLessThan(1e-5),
          );
        },
      ),
      { numRuns: 150, seed: 20240601 },
    );
  });

  it('greedy takes the first arg-max and top-k breaks ties by lower id', () => {
    const logits = tf.tensor2d([
      [0, 2, 1, 2, 2],
      [5, 5, 5, 5, 5],
    ]);
    const greedy = sampleOnDevice(logits, { temperature: 0, topK: 0, topP: 1 }, [0.5, 0.99]);
    expect(Array.from(greedy.ids.dataSync())).toEqual([1, 0]);
    // top-k 2 keeps ids {1, 3} of row 0 and {0, 1} of row 1; u near 1 picks the second kept id.
    const top = sampleOnDevice(logits, { temperature: 1, topK: 2, topP: 1 }, [0.999, 0.999]);
    expect(Array.from(top.ids.dataSync())).toEqual([3, 1]);
    // Log-probs are before filtering: log(1/5) for the constant row.
    expect(top.logProbs.dataSync()[1]).toBeCloseTo(Math.log(1 / 5), 6);
    tf.dispose([logits, greedy.ids, greedy.logProbs, top.ids, top.logProbs]);
  });

  it('keeps a top-p prefix reached exactly by tied tokens, on both paths', async () => {
    // Five equal tokens at top-p 0.6: the first three (by id) have mass 0.6 exactly.
    const rows = Array.from({ length: 40 }, () => [0, 0, 0, 0, 0]);
    const r = await bothPaths(rows, { temperature: 1, topK: 0, topP: 0.6 }, 7);
    expect(r.device.ids).toEqual(r.host.ids);
    expect(new Set(r.host.ids)).toEqual(new Set([0, 1, 2]));
  });

  it('leaks no tensor and validates its arguments', async () => {
    const logits = tf.tensor2d(logitRows(1, 4, 50));
    const vector = tf.zeros([4]);
    const before = tf.memory().numTensors;
    for (const [, s] of modes) {
      const out = sampleOnDevice(logits, s, [0.1, 0.5, 0.9, 0]);
      expect(out.ids.dtype).toBe('int32');
      expect(out.ids.shape).toEqual([4]);
      expect(out.logProbs.shape).toEqual([4]);
      tf.dispose([out.ids, out.logProbs]);
      await sampleRows(logits, s, [1, 2, 3, 4].map(createRng), true);
    }
    expect(tf.memory().numTensors).toBe(before);
    const ok: SamplingSettings = { temperature: 1, topK: 0, topP: 1 };
    expect(() => sampleOnDevice(logits, ok, [0.1])).toThrow(/sampleOnDevice: uniforms/);
    expect(() => sampleOnDevice(logits, ok, [0.1, 0.2, 1, 0.3])).toThrow(/uniforms\[2\]/);
    expect(() => sampleOnDevice(logits, { ...ok, topP: 0 }, [0, 0, 0, 0])).toThrow(/topP/);
    expect(() => sampleOnDevice(vector as tf.Tensor2D, ok, [0])).toThrow(/logits/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, vector]);
  });
});

describe('generate with the device sampler', () => {
  const cases = [
    ['gpt2 V 16', tinyGpt2Config({ initStd: 0.5 })],
    ['llama V 300', tinyLlamaConfig({ initStd: 0.5, vocabSize: 300 })],
  ] as const;

  it.each(cases)('%s: forced on, gives the host path’s rows', async (_name, config) => {
    const host = createCausalLM(config, { seed: 3, deviceSamplingMinVocab: Infinity });
    const weights = host.getWeights();
    const device = createCausalLM(config, { seed: 0, weights, deviceSamplingMinVocab: 0 });
    tf.dispose(Object.values(weights));
    const prompts = [[1], [4, 2, 7], [3, 3], [9, 8, 7, 6, 5]];
    for (const [, s] of modes) {
      const request = {
        prompts,
        maxNewTokens: 7,
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        seeds: [0, 1, 2, 3],
        eosId: 5,
        stopSequences: [[2, 2]],
        returnLogProbs: true,
      };
      const a = await host.generate(request);
      const before = tf.memory().numTensors;
      const b = await device.generate(request);
      expect(tf.memory().numTensors).toBe(before);
      expect(b.map((r) => [r.ids, r.finishReason])).toEqual(a.map((r) => [r.ids, r.finishReason]));
      b.forEach((row, i) =>
        row.logProbs?.forEach((lp, t) =>
          expect(Math.abs(lp - a[i]!.logProbs![t]!)).toBeLessThan(1e-5),
        ),
      );
    }
    host.dispose();
    device.dispose();
  });

  it(`samples on the device by default from V = ${DEVICE_SAMPLING_MIN_VOCAB} only`, async () => {
    const kernelsOf = async (vocabSize: number): Promise<string[]> => {
      const model = createCausalLM(tinyGpt2Config({ vocabSize }), { seed: 1 });
      const request = { prompts: [[1]], maxNewTokens: 2, topK: 4, seeds: [0] };
      const info = await tf.profile(async () => {
        await model.generate(request);
        return [];
      });
      model.dispose();
      return info.kernelNames;
    };
    expect(await kernelsOf(DEVICE_SAMPLING_MIN_VOCAB - 1)).not.toContain('TopK');
    expect(await kernelsOf(DEVICE_SAMPLING_MIN_VOCAB)).toContain('TopK');
  });

  it('rejects a bad deviceSamplingMinVocab', () => {
    expect(() => createCausalLM(tinyGpt2Config(), { seed: 0, deviceSamplingMinVocab: -1 })).toThrow(
      /deviceSamplingMinVocab/,
    );
  });
});
