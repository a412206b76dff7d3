import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import type { ExampleContexts } from './contexts.js';
import { mulberry32 } from './rng.js';
import { buildTraceScoreRequest, scoreTraces } from './score-traces.js';
import { DEFAULT_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, greedyTokenizer } from './testing/index.js';

// A tokenizer with a non-canonical segmentation: 'think' is one piece, but 'th' + 'ink' decode to
// the same text. The encoder (longest match) never produces 'th','ink' for 'think'.
const tokenizer = greedyTokenizer([
  ...new Set(TEST_ALPHABET),
  'th',
  'ink',
  'think',
  '<think>',
  '</think>',
  '<answer>',
  '</answer>',
]);
const id = (piece: string): number => tokenizer.id(piece);

const contexts: ExampleContexts[] = [
  buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'What is 7*6?', answer: '42' }),
  buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'Say hi', answer: 'hello there' }),
];

function randomTraces(seed: number, n: number): { exampleIndex: number; traceIds: number[] }[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, (_, b) => ({
    exampleIndex: b % 2,
    traceIds: [
      ...Array.from({ length: 1 + Math.floor(next() * 6) }, () => Math.floor(next() * 40)),
      id('</think>'),
    ],
  }));
}

describe('buildTraceScoreRequest', () => {
  it('splices the sampled ids verbatim, never re-encoded', () => {
    // sampled: 'th' 'ink' ' ' '4' '2' '</think>' — re-encoding the text would give 'think' ...
    const traceIds = [id('th'), id('ink'), id(' '), id('4'), id('2'), id('</think>')];
    expect(tokenizer.encode(tokenizer.decode(traceIds))).not.toEqual(traceIds);
    const ctx = contexts[0] as ExampleContexts;
    const request = buildTraceScoreRequest({
      rollouts: [{ exampleIndex: 0, traceIds }],
      contexts,
      includePosterior: true,
      answerSpan: 'answer',
    });
    const P = ctx.priorPrefix.length;
    const Q = ctx.posteriorPrefix.length;
    expect(request.sequences).toEqual([
      [...ctx.priorPrefix, ...traceIds, ...ctx.answerOpen, ...ctx.answer, ...ctx.answerClose],
      [...ctx.posteriorPrefix, ...traceIds],
    ]);
    expect(request.spans.trace).toEqual([
      { start: P, length: 6 },
      { start: Q, length: 6 },
    ]);
    expect(request.spans.answer).toEqual([
      { start: P + 6 + 2, length: 2 },
      { start: 1, length: 0 },
    ]);
    expect(tokenizer.decode(request.sequences[0] ?? [])).toBe(
      'Question: What is 7*6?\n<think>think 42</think>\n<answer>42</answer>',
    );
    const withClose = buildTraceScoreRequest({
      rollouts: [{ exampleIndex: 0, traceIds }],
      contexts,
      includePosterior: false,
      answerSpan: 'answer+close',
      temperature: 0.7,
    });
    expect(withClose.sequences).toHaveLength(1);
    expect(withClose.spans.answer).toEqual([{ start: P + 8, length: 3 }]);
    expect(withClose.temperature).toBe(0.7);
  });

  it('property: every span cuts exactly the trace / answer ids out of its sequence', () => {
    const trace = fc.array(fc.integer({ min: 0, max: tokenizer.vocabSize - 1 }), { maxLength: 9 });
    const row = fc.record({ exampleIndex: fc.integer({ min: 0, max: 1 }), traceIds: trace });
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (rollouts, withClose) => {
          const request = buildTraceScoreRequest({
            rollouts,
            contexts,
            includePosterior: true,
            answerSpan: withClose ? 'answer+close' : 'answer',
          });
          const B = rollouts.length;
          expect(request.sequences).toHaveLength(2 * B);
          const cut = (b: number, key: 'trace' | 'answer'): number[] => {
            const span = request.spans[key][b] ?? { start: 0, length: 0 };
            return (request.sequences[b] ?? []).slice(span.start, span.start + span.length);
          };
          rollouts.forEach((r, b) => {
            const ctx = contexts[r.exampleIndex] as ExampleContexts;
            expect(cut(b, 'trace')).toEqual(r.traceIds);
            expect(cut(B + b, 'trace')).toEqual(r.traceIds);
            expect(cut(b, 'answer')).toEqual(
              withClose ? [...ctx.answer, ...ctx.answerClose] : ctx.answer,
            );
            expect(cut(B + b, 'answer')).toEqual([]);
            expect(request.sequences[b]?.slice(0, ctx.priorPrefix.length)).toEqual(ctx.priorPrefix);
            expect(request.sequences[B + b]?.slice(0, ctx.posteriorPrefix.length)).toEqual(
              ctx.posteriorPrefix,
            );
          });
        },
      ),
      { seed: 11, numRuns: 100 },
    );
  });

  it('rejects bad arguments naming the function and argument', () => {
    const base = { contexts, includePosterior: true, answerSpan: 'answer' } as const;
    expect(() => buildTraceScoreRequest({ ...base, rollouts: [] })).toThrow(
      /buildTraceScoreRequest: rollouts/,
    );
    expect(() =>
      buildTraceScoreRequest({ ...base, rollouts: [{ exampleIndex: 2, traceIds: [1] }] }),
    ).toThrow(/buildTraceScoreRequest: rollouts\[0\].exampleIndex 2/);
    expect(() =>
      buildTraceScoreRequest({
        ...base,
        rollouts: [{ exampleIndex: 0, traceIds: [1] }],
        temperature: 0,
      }),
    ).toThrow(/buildTraceScoreRequest: temperature/);
  });
});

describe('scoreTraces', () => {
  it('one stacked call; trace-aligned prior/posterior log-probs match a per-row oracle', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, seed: 3 });
    const rollouts = randomTraces(1, 5);
    for (const temperature of [1, 0.6]) {
      const before = tf.memory().numTensors;
      const calls = policy.scoreCalls;
      const out = scoreTraces(policy, {
        rollouts,
        contexts,
        includePosterior: true,
        answerSpan: 'answer',
        temperature,
      });
      expect(policy.scoreCalls - calls).toBe(1);
      expect(policy.scoreRequests.at(-1)?.sequences).toHaveLength(10);
      const posterior = out.posteriorTrace;
      if (posterior === undefined) throw new Error('posteriorTrace missing');
      const T = Math.max(...rollouts.map((r) => r.traceIds.length));
      expect(out.priorTrace.logProbs.shape).toEqual([5, T]);
      expect(posterior.logProbs.shape).toEqual([5, T]);
      // 'hello there' is 10 ids here ('th' is a piece): A = the longest enc(y).
      const A = (contexts[1] as ExampleContexts).answer.length;
      expect(A).toBe(10);
      expect(out.answer.logProbs.shape).toEqual([5, A]);
      const prior = out.priorTrace.logProbs.arraySync();
      const priorMask = out.priorTrace.mask.arraySync();
      const post = posterior.logProbs.arraySync();
      const postMask = posterior.mask.arraySync();
      const answer = out.answer.logProbs.arraySync();
      const answerMask = out.answer.mask.arraySync();
      rollouts.forEach((r, b) => {
        const ctx = contexts[r.exampleIndex] as ExampleContexts;
        const priorSeq = [...ctx.priorPrefix, ...r.traceIds, ...ctx.answerOpen, ...ctx.answer];
        const postSeq = [...ctx.posteriorPrefix, ...r.traceIds];
        for (let t = 0; t < T; t++) {
          const real = t < r.traceIds.length;
          expect(priorMask[b]?.[t]).toBe(real ? 1 : 0);
          expect(postMask[b]?.[t]).toBe(real ? 1 : 0);
          const p = real
            ? policy.referenceLogProb(priorSeq, ctx.priorPrefix.length + t, temperature)
            : 0;
          const q = real
            ? policy.referenceLogProb(postSeq, ctx.posteriorPrefix.length + t, temperature)
            : 0;
          expect(prior[b]?.[t]).toBeCloseTo(p, 4);
          expect(post[b]?.[t]).toBeCloseTo(q, 4);
        }
        const a0 = ctx.priorPrefix.length + r.traceIds.length + ctx.answerOpen.length;
        for (let k = 0; k < A; k++) {
          const real = k < ctx.answer.length;
          expect(answerMask[b]?.[k]).toBe(real ? 1 : 0);
          expect(answer[b]?.[k]).toBeCloseTo(
            real ? policy.referenceLogProb(priorSeq, a0 + k, temperature) : 0,
            4,
          );
        }
      });
      // The two contexts really differ (otherwise the alignment check above could not fail).
      expect(prior[0]?.[0]).not.toBeCloseTo(post[0]?.[0] ?? 0, 3);
      tf.dispose([out.priorTrace, posterior, out.answer].flatMap((s) => [s.logProbs, s.mask]));
      expect(tf.memory().numTensors).toBe(before);
    }
    policy.dispose();
  });

  it('prior-only scoring: B rows, no posteriorTrace; answer+close span', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, seed: 3 });
    const rollouts = randomTraces(2, 3);
    const before = tf.memory().numTensors;
    const out = scoreTraces(policy, {
      rollouts,
      contexts,
      includePosterior: false,
      answerSpan: 'answer+close',
    });
    expect(out.posteriorTrace).toBeUndefined();
    expect(policy.scoreRequests.at(-1)?.sequences).toHaveLength(3);
    expect(out.answer.mask.arraySync()).toEqual([
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      [...Array(11).fill(1)],
      [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    tf.dispose([
      out.priorTrace.logProbs,
      out.priorTrace.mask,
      out.answer.logProbs,
      out.answer.mask,
    ]);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it('is differentiable: variableGrads matches finite differences and leaks nothing', () => {
    const V = tokenizer.vocabSize;
    const next = mulberry32(8);
    const table = tf.variable(
      tf.tensor2d(
        Array.from({ length: V * V }, () => next() - 0.5),
        [V, V],
      ),
      true,
      'table',
      'float32',
    );
    const policy = new ScriptedPolicy({ vocabSize: V, table, seed: 2 });
    const rollouts = randomTraces(4, 3);
    const weights = tf.tensor2d(
      Array.from({ length: 3 * 8 }, () => next()),
      [3, 8],
    );
    const lossOf = (): tf.Scalar => {
      const out = scoreTraces(policy, {
        rollouts,
        contexts,
        includePosterior: true,
        answerSpan: 'answer',
      });
      const post = out.posteriorTrace as { logProbs: tf.Tensor2D };
      const T = out.priorTrace.logProbs.shape[1];
      const w = tf.slice(weights, [0, 0], [3, T]);
      return tf.add(
        tf.sum(tf.mul(tf.sub(out.priorTrace.logProbs, tf.mul(0.5, post.logProbs)), w)),
        tf.sum(out.answer.logProbs),
      ) as tf.Scalar;
    };
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(lossOf, [table]);
    const grad = (grads['table'] as tf.Tensor).arraySync() as number[][];
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // Central differences on a few entries that the loss uses (rows = previous tokens).
    const used = rollouts[0]?.traceIds ?? [];
    const entries: [number, number][] = [
      [used[0] ?? 0, used[1] ?? 0],
      [id('<think>'), used[0] ?? 0],
      [id('4'), id('2')],
      [id('</think>'), id('\n')],
    ];
    const h = 1e-2;
    for (const [i, j] of entries) {
      const evalAt = (delta: number): number => {
        const bumped = tf.tidy(() => tf.add(table, tf.scatterND([[i, j]], [delta], [V, V])));
        table.assign(bumped as tf.Tensor2D);
        bumped.dispose();
        return tf.tidy(() => lossOf().dataSync()[0] as number);
      };
      const plus = evalAt(h);
      const minus = evalAt(-2 * h);
      evalAt(h);
      const fd = (plus - minus) / (2 * h);
      expect(Math.abs(fd - (grad[i]?.[j] ?? Number.NaN))).toBeLessThan(
        2e-2 * Math.max(1, Math.abs(fd)),
      );
    }
    expect(grad.flat().some((g) => Math.abs(g) > 1e-3)).toBe(true);
    weights.dispose();
    table.dispose();
    policy.dispose();
  });

  it('names the function when the policy returns a wrong shape, and leaks nothing', () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize });
    const broken = {
      vocabSize: policy.vocabSize,
      maxContext: policy.maxContext,
      generate: policy.generate.bind(policy),
      scoreTokens: <K extends string>(request: Parameters<typeof policy.scoreTokens<K>>[0]) => {
        const out = policy.scoreTokens(request);
        const trace = (out as Record<string, { logProbs: tf.Tensor2D; mask: tf.Tensor2D }>)[
          'trace'
        ];
        if (trace !== undefined) {
          (trace as { logProbs: tf.Tensor2D }).logProbs = tf.slice(trace.logProbs, [0, 0], [1, -1]);
        }
        return out;
      },
    };
    const before = tf.memory().numTensors;
    expect(() =>
      scoreTraces(broken, {
        rollouts: randomTraces(5, 2),
        contexts,
        includePosterior: true,
        answerSpan: 'answer',
      }),
    ).toThrow(/scoreTraces: policy.scoreTokens returned trace.logProbs of shape \[1, /);
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });
});
