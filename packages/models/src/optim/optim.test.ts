import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAdamW, decaysWeight } from './adamw.js';
import { clipByGlobalNorm } from './clip.js';
import { lrAt } from './schedule.js';

/** Naive AdamW (PyTorch's algorithm, written out) on plain arrays. */
function adamwOracle(
  p0: number[],
  gradsPerStep: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number },
): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gradsPerStep.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] ?? 0;
      m[i] = o.b1 * (m[i] ?? 0) + (1 - o.b1) * gi;
      v[i] = o.b2 * (v[i] ?? 0) + (1 - o.b2) * gi * gi;
      p[i] = (p[i] ?? 0) * (1 - o.lr * o.wd);
      const mh = (m[i] ?? 0) / (1 - o.b1 ** t);
      const vh = (v[i] ?? 0) / (1 - o.b2 ** t);
      p[i] = (p[i] ?? 0) - (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return p;
}

describe('createAdamW', () => {
  it('matches a hand-written AdamW over several steps, decaying weights but not biases/norms', () => {
    const o = { lr: 0.05, b1: 0.8, b2: 0.95, eps: 1e-6, wd: 0.1 };
    const w0 = [0.5, -1.2, 2.0, 0.1];
    const b0 = [0.3, -0.4];
    const gw = [
      [0.1, -0.2, 0.3, 0.0],
      [1.0, 0.5, -0.5, 2.0],
      [-0.3, 0.2, 0.1, -1.0],
    ];
    const gb = [
      [0.2, 0.1],
      [-0.5, 0.3],
      [0.0, 1.0],
    ];
    const vars = new Map([
      ['layers.0.attn.q.weight', tf.variable(tf.tensor(w0, [2, 2]))],
      ['layers.0.attn.q.bias', tf.variable(tf.tensor(b0))],
    ]);
    const opt = createAdamW({
      lr: o.lr,
      beta1: o.b1,
      beta2: o.b2,
      epsilon: o.eps,
      weightDecay: o.wd,
    });
    const before = tf.memory().numTensors;
    gw.forEach((g, k) => {
      const grads = {
        'layers.0.attn.q.weight': tf.tensor(g, [2, 2]),
        'layers.0.attn.q.bias': tf.tensor(gb[k] ?? []),
      };
      opt.step(grads, vars);
      tf.dispose(Object.values(grads));
    });
    expect(opt.stepCount).toBe(3);
    const wantW = adamwOracle(w0, gw, o);
    const wantB = adamwOracle(b0, gb, { ...o, wd: 0 });
    const gotW = Array.from(vars.get('layers.0.attn.q.weight')?.dataSync() ?? []);
    const gotB = Array.from(vars.get('layers.0.attn.q.bias')?.dataSync() ?? []);
    gotW.forEach((x, i) => expect(x).toBeCloseTo(wantW[i] ?? NaN, 5));
    gotB.forEach((x, i) => expect(x).toBeCloseTo(wantB[i] ?? NaN, 5));
    // Moments are 4 new tensors (m, v of two parameters); nothing else is kept.
    expect(tf.memory().numTensors).toBe(before + 4);

    // State round trip: a restored optimizer continues identically.
    const state = opt.getState();
    expect(state.step).toBe(3);
    expect(Object.keys(state.tensors).sort()).toEqual([
      'm/layers.0.attn.q.bias',
      'm/layers.0.attn.q.weight',
      'v/layers.0.attn.q.bias',
      'v/layers.0.attn.q.weight',
    ]);
    const opt2 = createAdamW({
      lr: o.lr,
      beta1: o.b1,
      beta2: o.b2,
      epsilon: o.eps,
      weightDecay: o.wd,
    });
    opt2.setState(state);
    tf.dispose(Object.values(state.tensors));
    const vars2 = new Map([...vars].map(([k, x]) => [k, tf.variable(x.clone())]));
    const g4 = {
      'layers.0.attn.q.weight': tf.tensor([0.3, 0.3, -0.1, 0.2], [2, 2]),
      'layers.0.attn.q.bias': tf.tensor([0.1, -0.1]),
    };
    opt.step(g4, vars, { lr: 0.01 });
    opt2.step(g4, vars2, { lr: 0.01 });
    for (const [k, x] of vars) {
      expect(Array.from(vars2.get(k)?.dataSync() ?? [])).toEqual(Array.from(x.dataSync()));
    }
    expect(() => opt.step({ nope: g4['layers.0.attn.q.bias'] }, vars)).toThrow(/nope/);
    tf.dispose([...Object.values(g4), ...vars.values(), ...vars2.values()]);
    opt.dispose();
    opt2.dispose();
  });

  it('decay rule excludes biases and norms', () => {
    expect(decaysWeight('layers.3.mlp.up.weight')).toBe(true);
    expect(decaysWeight('embed.weight')).toBe(true);
    expect(decaysWeight('layers.3.mlp.up.bias')).toBe(false);
    expect(decaysWeight('layers.0.norm1.weight')).toBe(false);
    expect(decaysWeight('final_norm.weight')).toBe(false);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to maxNorm when above, copies when below, and leaks nothing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.float({ min: Math.fround(0.1), max: 20, noNaN: true }),
        (a, b, maxNorm) => {
          const grads = { a: tf.tensor(a), b: tf.tensor(b) };
          const before = tf.memory().numTensors;
          const out = clipByGlobalNorm(grads, maxNorm);
          const norm = Math.sqrt([...a, ...b].reduce((s, x) => s + x * x, 0));
          expect(out.norm).toBeCloseTo(norm, 3);
          const coef = Math.min(1, maxNorm / (norm + 1e-6));
          Array.from(out.grads['a']?.dataSync() ?? []).forEach((x, i) =>
            expect(x).toBeCloseTo((a[i] ?? 0) * coef, 4),
          );
          Array.from(out.grads['b']?.dataSync() ?? []).forEach((x, i) =>
            expect(x).toBeCloseTo((b[i] ?? 0) * coef, 4),
          );
          expect(tf.memory().numTensors).toBe(before + 2);
          tf.dispose([...Object.values(grads), ...Object.values(out.grads)]);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('lrAt', () => {
  it('warms up linearly, then stays constant or follows a cosine to minLr', () => {
    const base = { peak: 1e-3, warmupSteps: 10, totalSteps: 110 };
    expect(lrAt(0, { ...base, schedule: 'cosine' })).toBe(0);
    expect(lrAt(5, { ...base, schedule: 'cosine' })).toBeCloseTo(5e-4, 12);
    expect(lrAt(10, { ...base, schedule: 'cosine' })).toBeCloseTo(1e-3, 12);
    expect(lrAt(60, { ...base, schedule: 'cosine' })).toBeCloseTo(5e-4, 12);
    expect(lrAt(60, { ...base, schedule: 'cosine', minLr: 1e-4 })).toBeCloseTo(5.5e-4, 12);
    expect(lrAt(110, { ...base, schedule: 'cosine', minLr: 1e-4 })).toBeCloseTo(1e-4, 12);
    expect(lrAt(500, { ...base, schedule: 'cosine' })).toBeCloseTo(0, 12);
    expect(lrAt(60, { ...base, schedule: 'constant' })).toBe(1e-3);
    expect(() => lrAt(-1, { ...base, schedule: 'constant' })).toThrow(/step/);
  });

  it('cosine is non-increasing after warm-up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), (s) => {
        const a = lrAt(10 + s, { schedule: 'cosine', peak: 1, warmupSteps: 10, totalSteps: 150 });
        const b = lrAt(11 + s, { schedule: 'cosine', peak: 1, warmupSteps: 10, totalSteps: 150 });
        expect(b).toBeLessThanOrEqual(a + 1e-15);
      }),
    );
  });
});
