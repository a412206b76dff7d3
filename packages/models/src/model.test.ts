import * as tf from '@tensorflow/tfjs-core';
import type { Policy } from '@covrl/sampler';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { createCausalLM } from './model.js';
import type { CausalLM } from './model.js';
import { createRng } from './rng.js';
import { tinyGpt2Config, tinyLlamaConfig, withWasmCustomGradSaves } from './testing/index.js';

const configs: [string, ModelConfig][] = [
  ['gpt2', tinyGpt2Config({ initStd: 0.3 })],
  ['llama GQA untied qkvBias', tinyLlamaConfig({ initStd: 0.3, qkvBias: true })],
  ['llama MHA tied', tinyLlamaConfig({ initStd: 0.3, nKvHeads: 4, tieEmbeddings: true })],
];

/** Naive log-softmax of one logits row. */
function logSoftmaxRow(row: readonly number[], temperature = 1): number[] {
  const z = row.map((x) => x / temperature);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0));
  return z.map((x) => x - lse);
}

/** Full recomputation: logits [L, V] of one unpadded sequence. */
function fullLogits(model: CausalLM, ids: readonly number[]): number[][] {
  const t = model.logits({ ids: [ids] });
  const out = (t.arraySync() as number[][][])[0] as number[][];
  t.dispose();
  return out;
}

function randomIds(seed: number, n: number, vocab: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Math.floor(rng.next() * vocab));
}

describe.each(configs)('CausalLM %s', (_name, config) => {
  it('KV-cache generation equals full recomputation for prompts of different lengths', async () => {
    const model = createCausalLM(config, { seed: 1 });
    const prompts = [randomIds(2, 5, 16), randomIds(3, 1, 16), randomIds(4, 9, 16)];
    // eosId 5 ends some rows early: the rows left must still match (finished rows leave the cache).
    for (const [temperature, eosId] of [
      [0, undefined],
      [0.8, undefined],
      [1.5, 5],
    ] as const) {
      const rows = await model.generate({
        prompts,
        maxNewTokens: 6,
        temperature,
        seeds: [7, 8, 9],
        returnLogProbs: true,
        ...(eosId === undefined ? {} : { eosId }),
      });
      rows.forEach((row, b) => {
        const prompt = prompts[b] as number[];
        if (eosId === undefined) {
          expect(row.ids).toHaveLength(6);
          expect(row.finishReason).toBe('length');
        } else {
          const at = row.ids.indexOf(eosId);
          expect(row.finishReason).toBe(at === -1 ? 'length' : 'eos');
          expect(row.ids).toHaveLength(at === -1 ? 6 : at + 1);
        }
        const logits = fullLogits(model, [...prompt, ...row.ids]);
        row.ids.forEach((id, t) => {
          const z = logits[prompt.length - 1 + t] as number[];
          const lp = logSoftmaxRow(z, temperature === 0 ? 1 : temperature);
          expect(Math.abs((row.logProbs?.[t] ?? NaN) - (lp[id] ?? NaN))).toBeLessThan(1e-4);
          if (temperature === 0) expect(id).toBe(z.indexOf(Math.max(...z)));
        });
      });
    }
    model.dispose();
  });

  it('seeded sampling is reproducible and independent of batch composition', async () => {
    const model = createCausalLM(config, { seed: 5 });
    const prompts = [randomIds(10, 3, 16), randomIds(11, 7, 16), randomIds(12, 2, 16)];
    const req = { maxNewTokens: 8, temperature: 1, topK: 10, topP: 0.9 };
    const all = await model.generate({ ...req, prompts, seeds: [1, 2, 3] });
    const again = await model.generate({ ...req, prompts, seeds: [1, 2, 3] });
    const alone = await model.generate({ ...req, prompts: [prompts[2] as number[]], seeds: [3] });
    const swapped = await model.generate({
      ...req,
      prompts: [prompts[1] as number[], prompts[0] as number[]],
      seeds: [2, 1],
    });
    expect(again).toEqual(all);
    expect(alone[0]).toEqual(all[2]);
    expect(swapped[0]).toEqual(all[1]);
    expect(swapped[1]).toEqual(all[0]);
    const other = await model.generate({ ...req, prompts, seeds: [100, 200, 300] });
    expect(other.map((r) => r.ids)).not.toEqual(all.map((r) => r.ids));
    model.dispose();
  });

  it('stops on stop sequences (inclusive), eos and length', async () => {
    const model = createCausalLM(config, { seed: 9 });
    const prompt = randomIds(20, 4, 16);
    const [free] = await model.generate({
      prompts: [prompt],
      maxNewTokens: 10,
      temperature: 0,
      seeds: [0],
    });
    const ids = free?.ids ?? [];
    expect(ids).toHaveLength(10);
    // Stop on the pair at positions 2..3 (or earlier if the pair occurs earlier).
    const stop = [ids[2] as number, ids[3] as number];
    let end = 1;
    while (!(ids[end - 1] === stop[0] && ids[end] === stop[1])) end++;
    const [stopped] = await model.generate({
      prompts: [prompt, prompt],
      maxNewTokens: 10,
      temperature: 0,
      seeds: [0, 1],
      stopSequences: [
        [
          99 % 16,
          98 % 16,
          97 % 16,
          96 % 16,
          95 % 16,
          94 % 16,
          93 % 16,
          92 % 16,
          91 % 16,
          90 % 16,
          89 % 16,
        ],
        stop,
      ],
    });
    expect(stopped).toEqual({ ids: ids.slice(0, end + 1), finishReason: 'stop' });
    const eos = ids[4] as number;
    const eosAt = ids.indexOf(eos);
    const [ended] = await model.generate({
      prompts: [prompt],
      maxNewTokens: 10,
      temperature: 0,
      seeds: [0],
      eosId: eos,
    });
    expect(ended).toEqual({ ids: ids.slice(0, eosAt + 1), finishReason: 'eos' });
    const [short] = await model.generate({
      prompts: [prompt],
      maxNewTokens: 3,
      temperature: 0,
      seeds: [0],
    });
    expect(short).toEqual({ ids: ids.slice(0, 3), finishReason: 'length' });
    model.dispose();
  });

  it('scoreTokens equals a naive per-row log-softmax oracle', () => {
    const model = createCausalLM(config, { seed: 3 });
    const sequences = [randomIds(30, 9, 16), randomIds(31, 4, 16), randomIds(32, 12, 16)];
    const spans = {
      trace: [
        { start: 2, length: 5 },
        { start: 1, length: 3 },
        { start: 4, length: 8 },
      ],
      answer: [
        { start: 7, length: 2 },
        { start: 3, length: 0 },
        { start: 11, length: 1 },
      ],
      empty: [
        { start: 1, length: 0 },
        { start: 1, length: 0 },
        { start: 1, length: 0 },
      ],
    };
    for (const temperature of [1, 0.7]) {
      const before = tf.memory().numTensors;
      const scored = model.scoreTokens({ sequences, spans, temperature });
      expect(tf.memory().numTensors).toBe(before + 6);
      for (const [key, list] of Object.entries(spans)) {
        const width = Math.max(...list.map((s) => s.length));
        const got = scored[key as keyof typeof spans];
        expect(got.logProbs.shape).toEqual([3, width]);
        const lp = got.logProbs.arraySync();
        const mask = got.mask.arraySync();
        list.forEach((span, b) => {
          const seq = sequences[b] as number[];
          const logits = fullLogits(model, seq);
          for (let t = 0; t < width; t++) {
            if (t < span.length) {
              const j = span.start + t;
              const want = logSoftmaxRow(logits[j - 1] as number[], temperature)[seq[j] as number];
              expect(Math.abs((lp[b]?.[t] ?? NaN) - (want ?? NaN))).toBeLessThan(1e-4);
              expect(mask[b]?.[t]).toBe(1);
            } else {
              expect(Math.abs(lp[b]?.[t] ?? NaN)).toBe(0);
              expect(mask[b]?.[t]).toBe(0);
            }
          }
        });
      }
      tf.dispose(Object.values(scored).flatMap((s) => [s.logProbs, s.mask]));
    }
    model.dispose();
  });

  it('scores prior and posterior contexts stacked in one call (2B rows) as two separate calls', () =>
    withWasmCustomGradSaves(() => {
      // The same traces under two contexts of different lengths (CoVRL's prior/posterior):
      // stacking them pads every row to the longest one, which must not change any row.
      const model = createCausalLM(config, { seed: 6 });
      const traces = [randomIds(60, 5, 16), randomIds(61, 3, 16), randomIds(62, 7, 16)];
      const prior = traces.map((t, b) => [...randomIds(70 + b, 2 + b, 16), ...t]);
      const posterior = traces.map((t, b) => [...randomIds(80 + b, 6 - b, 16), ...t, 3]);
      const spansOf = (rows: number[][], extra: number) => ({
        trace: rows.map((r, b) => ({
          start: r.length - traces[b]!.length - extra,
          length: traces[b]!.length,
        })),
        last: rows.map((r) => ({ start: r.length - 1, length: 1 })),
      });
      const coef = tf.tensor1d([0.4, -1.2, 0.8, 1.5, -0.3, 0.9]);
      const vars = [...model.variables().values()];
      // Loss = Σ_rows coef_row · Σ_t trace log-prob, so the gradients compare as well.
      const weighted = (lp: tf.Tensor2D, rows: tf.Tensor1D): tf.Scalar =>
        tf.sum(tf.mul(tf.sum(lp, 1), rows));
      const stacked = tf.variableGrads(() => {
        const s = model.scoreTokens({
          sequences: [...prior, ...posterior],
          spans: {
            trace: [...spansOf(prior, 0).trace, ...spansOf(posterior, 1).trace],
            last: [...spansOf(prior, 0).last, ...spansOf(posterior, 1).last],
          },
        });
        return weighted(s.trace.logProbs, coef);
      }, vars);
      const separate = tf.variableGrads(() => {
        const p = model.scoreTokens({ sequences: prior, spans: spansOf(prior, 0) });
        const q = model.scoreTokens({ sequences: posterior, spans: spansOf(posterior, 1) });
        return tf.add(
          weighted(p.trace.logProbs, tf.slice(coef, 0, 3)),
          weighted(q.trace.logProbs, tf.slice(coef, 3, 3)),
        ) as tf.Scalar;
      }, vars);
      const both = model.scoreTokens({
        sequences: [...prior, ...posterior],
        spans: {
          trace: [...spansOf(prior, 0).trace, ...spansOf(posterior, 1).trace],
          last: [...spansOf(prior, 0).last, ...spansOf(posterior, 1).last],
        },
      });
      const p = model.scoreTokens({ sequences: prior, spans: spansOf(prior, 0) });
      const q = model.scoreTokens({ sequences: posterior, spans: spansOf(posterior, 1) });
      for (const key of ['trace', 'last'] as const) {
        const got = both[key].logProbs.arraySync();
        const mask = both[key].mask.arraySync();
        const want = [...p[key].logProbs.arraySync(), ...q[key].logProbs.arraySync()];
        const wantMask = [...p[key].mask.arraySync(), ...q[key].mask.arraySync()];
        expect(both[key].logProbs.shape).toEqual([6, key === 'trace' ? 7 : 1]);
        expect(mask).toEqual(wantMask);
        got.forEach((row, r) =>
          row.forEach((x, t) => expect(Math.abs(x - want[r]![t]!)).toBeLessThan(1e-5)),
        );
      }
      expect(Math.abs(stacked.value.dataSync()[0]! - separate.value.dataSync()[0]!)).toBeLessThan(
        1e-4,
      );
      for (const v of vars) {
        const a = stacked.grads[v.name]!.dataSync();
        const b = separate.grads[v.name]!.dataSync();
        a.forEach((x, i) => expect(Math.abs(x - b[i]!), v.name).toBeLessThan(1e-5));
      }
      tf.dispose([
        coef,
        stacked.value,
        separate.value,
        ...Object.values(stacked.grads),
        ...Object.values(separate.grads),
        ...[both, p, q].flatMap((s) => [
          s.trace.logProbs,
          s.trace.mask,
          s.last.logProbs,
          s.last.mask,
        ]),
      ]);
      model.dispose();
    }));

  it('gradients through scoreTokens match finite differences (both matmul gradient modes)', () =>
    withWasmCustomGradSaves(() => {
      const sequences = [randomIds(40, 6, 16), randomIds(41, 4, 16)];
      const spans = {
        s: [
          { start: 1, length: 5 },
          { start: 2, length: 2 },
        ],
      };
      const weights = createRng(42);
      const coef = [0.3, -1.1, 0.7, 0.5, -0.2, 0.9, 1.3, -0.6, 0.4, 0.8];
      const lossOf = (m: CausalLM): tf.Scalar =>
        tf.tidy(() => {
          const { logProbs } = m.scoreTokens({ sequences, spans, temperature: 0.9 }).s;
          return tf.sum(tf.mul(logProbs, tf.tensor(coef, [2, 5])));
        });
      const grads: Record<string, number[]>[] = [];
      for (const mode of ['transpose', 'flags'] as const) {
        const model = createCausalLM(config, { seed: 4, matMulGradient: mode });
        const vars = [...model.variables().values()];
        const { grads: g, value } = tf.variableGrads(() => lossOf(model), vars);
        value.dispose();
        const named: Record<string, number[]> = {};
        for (const [name, v] of model.variables())
          named[name] = Array.from((g[v.name] as tf.Tensor).dataSync());
        tf.dispose(Object.values(g));
        grads.push(named);
        if (mode === 'transpose') {
          // Central differences on a few random entries of every parameter.
          const eps = 1e-2;
          for (const [name, v] of model.variables()) {
            const base = v.dataSync().slice();
            for (let r = 0; r < 2; r++) {
              const i = Math.floor(weights.next() * base.length);
              const probe = (delta: number): number => {
                const w = base.slice();
                w[i] = (w[i] ?? 0) + delta;
                v.assign(tf.tensor(w, v.shape));
                const l = lossOf(model);
                const out = l.dataSync()[0] ?? NaN;
                l.dispose();
                return out;
              };
              const fd = (probe(eps) - probe(-eps)) / (2 * eps);
              v.assign(tf.tensor(base, v.shape));
              const an = named[name]?.[i] ?? NaN;
              expect(Math.abs(fd - an), `${name}[${i}] fd ${fd} analytic ${an}`).toBeLessThan(
                3e-3 + 3e-2 * Math.abs(an),
              );
            }
          }
        }
        model.dispose();
      }
      for (const [name, g] of Object.entries(grads[0] ?? {})) {
        const h = grads[1]?.[name] ?? [];
        g.forEach((x, i) => expect(Math.abs(x - (h[i] ?? NaN))).toBeLessThan(1e-5));
      }
    }));

  it('getWeights/setWeights round trip bit-exactly and validate names and shapes', () => {
    const a = createCausalLM(config, { seed: 1 });
    const b = createCausalLM(config, { seed: 2 });
    const w = a.getWeights();
    b.setWeights(w);
    const w2 = b.getWeights();
    for (const [name, t] of Object.entries(w)) {
      expect(Array.from((w2[name] as tf.Tensor).dataSync())).toEqual(Array.from(t.dataSync()));
    }
    const c = createCausalLM(config, { seed: 99, weights: w });
    const l1 = a.logits({ ids: [[1, 2, 3]] });
    const l2 = c.logits({ ids: [[1, 2, 3]] });
    expect(Array.from(l2.dataSync())).toEqual(Array.from(l1.dataSync()));
    tf.dispose([l1, l2]);
    const bad = { ...w, 'embed.weight': tf.zeros([3, 3]) };
    expect(() => b.setWeights(bad)).toThrow(/embed\.weight.*\[3, 3\]/);
    expect(() => b.setWeights({ ...w, 'layers.9.foo': tf.zeros([1]) })).toThrow(/layers\.9\.foo/);
    const missing = { ...w };
    delete missing['final_norm.weight'];
    expect(() => b.setWeights(missing)).toThrow(/final_norm\.weight.*missing/);
    tf.dispose([...Object.values(w), ...Object.values(w2), bad['embed.weight']]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('leaks no tensor per generate call and rejects over-long requests naming the row', async () => {
    const model = createCausalLM(config, { seed: 1 });
    const req = {
      prompts: [[1, 2], [3], [4, 5, 6]],
      maxNewTokens: 5,
      seeds: [1, 2, 3],
      stopSequences: [[7]],
    };
    await model.generate(req);
    const before = tf.memory().numTensors;
    await model.generate(req);
    await model.generate({ ...req, temperature: 0, returnLogProbs: true });
    expect(tf.memory().numTensors).toBe(before);
    await expect(
      model.generate({ prompts: [[1], randomIds(1, 30, 16)], maxNewTokens: 5, seeds: [1, 2] }),
    ).rejects.toThrow(/prompts\[1\].*maxContext 32/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('createCausalLM', () => {
  it('counts parameters and names variables canonically', () => {
    const model = createCausalLM(tinyGpt2Config(), { seed: 0 });
    const policy: Policy = model;
    expect(policy.vocabSize).toBe(16);
    expect(policy.maxContext).toBe(32);
    const names = [...model.variables().keys()];
    expect(names).toContain('layers.1.mlp.down.bias');
    expect(names).not.toContain('lm_head.weight');
    const total = [...model.variables().values()].reduce((a, v) => a + v.size, 0);
    expect(model.numParameters).toBe(total);
    model.dispose();
  });

  it('initialises deterministically with N(0, initStd) and scaled residual projections', () => {
    const cfg = tinyGpt2Config({ dModel: 32, dFf: 128, nLayers: 4 });
    const a = createCausalLM(cfg, { seed: 3 });
    const b = createCausalLM(cfg, { seed: 3 });
    const std = (t: tf.Tensor): number => {
      const d = Array.from(t.dataSync());
      const m = d.reduce((x, y) => x + y, 0) / d.length;
      return Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / d.length);
    };
    const va = a.variables();
    expect(Array.from(va.get('embed.weight')?.dataSync() ?? [])).toEqual(
      Array.from(b.variables().get('embed.weight')?.dataSync() ?? []),
    );
    expect(std(va.get('layers.0.mlp.up.weight') as tf.Tensor)).toBeCloseTo(0.02, 2);
    expect(std(va.get('layers.0.mlp.down.weight') as tf.Tensor)).toBeCloseTo(
      0.02 / Math.sqrt(8),
      2,
    );
    expect(Array.from(va.get('layers.0.norm1.weight')?.dataSync() ?? [])).toEqual(
      new Array(32).fill(1),
    );
    a.dispose();
    b.dispose();
  });

  it('rejects bad options', () => {
    expect(() => createCausalLM(tinyGpt2Config(), { seed: 0.5 })).toThrow(/seed/);
    expect(() =>
      createCausalLM(tinyGpt2Config(), {
        seed: 0,
        weights: { 'embed.weight': tf.zeros([16, 16]) },
      }),
    ).toThrow(/missing/);
  });
});

describe('scoreTokens with a large vocabulary and short spans (gathers hidden rows first)', () => {
  it('matches the logits oracle in value and gradient', () =>
    withWasmCustomGradSaves(() => {
      const config = tinyGpt2Config({ vocabSize: 300, initStd: 0.2 });
      const model = createCausalLM(config, { seed: 8 });
      const sequences = [randomIds(50, 30, 300), randomIds(51, 22, 300), randomIds(52, 28, 300)];
      const spans = {
        a: [
          { start: 25, length: 2 },
          { start: 3, length: 1 },
          { start: 27, length: 1 },
        ],
      };
      const coef = tf.tensor2d([0.5, -1, 2, 0, 1.5, 0], [3, 2]);
      const vars = [...model.variables().values()];
      const viaScore = tf.variableGrads(
        () => tf.sum(tf.mul(model.scoreTokens({ sequences, spans }).a.logProbs, coef)),
        vars,
      );
      // Oracle: full logits per row, log-softmax, pick with a one-hot weight built on the host.
      const viaLogits = tf.variableGrads(() => {
        const terms = sequences.map((seq, b) => {
          const lp = tf.logSoftmax(tf.squeeze(model.logits({ ids: [seq] }), [0]));
          const w = new Float32Array(seq.length * 300);
          const span = spans.a[b] as { start: number; length: number };
          for (let t = 0; t < span.length; t++) {
            const j = span.start + t;
            w[(j - 1) * 300 + (seq[j] as number)] = [0.5, -1, 2, 0, 1.5, 0][b * 2 + t] as number;
          }
          return tf.sum(tf.mul(lp, tf.tensor2d(w, [seq.length, 300])));
        });
        return tf.addN(terms) as tf.Scalar;
      }, vars);
      expect(Math.abs(viaScore.value.dataSync()[0]! - viaLogits.value.dataSync()[0]!)).toBeLessThan(
        1e-4,
      );
      for (const v of vars) {
        const a = viaScore.grads[v.name]?.dataSync() ?? new Float32Array();
        const b = viaLogits.grads[v.name]?.dataSync() ?? new Float32Array();
        expect(a.length).toBe(b.length);
        a.forEach((x, i) => expect(Math.abs(x - (b[i] ?? NaN))).toBeLessThan(1e-4));
      }
      tf.dispose([
        coef,
        viaScore.value,
        viaLogits.value,
        ...Object.values(viaScore.grads),
        ...Object.values(viaLogits.grads),
      ]);
      model.dispose();
    }));
});
