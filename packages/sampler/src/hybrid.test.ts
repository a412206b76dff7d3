import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildContexts } from './contexts.js';
import { assignSources, sampleTraces } from './hybrid.js';
import { deriveSeed } from './rng.js';
import { DEFAULT_TAGS, THINKING_TAGS } from './templates.js';
import { ScriptedPolicy, TEST_ALPHABET, charTokenizer, greedyTokenizer } from './testing/index.js';

const tokenizer = greedyTokenizer(
  [...new Set(TEST_ALPHABET), '<think>', '</think>', '<answer>', '</answer>'],
  { eosToken: '<eos>' },
);

describe('assignSources', () => {
  it('deterministic split: first round-half-up(α·G) rows of each group are prior rows', () => {
    const cases: [number, number, number][] = [
      [0.5, 8, 4],
      [0.5, 3, 2], // 1.5 → 2
      [0.25, 2, 1], // 0.5 → 1
      [0.7, 5, 4], // 3.5 (3.4999… in floating point) → 4
      [0.3, 5, 2], // 1.5 → 2
      [0.1, 4, 0],
      [0.9, 4, 4], // 3.6 → 4
      [0, 4, 0],
      [1, 4, 4],
    ];
    for (const [alpha, groupSize, nPrior] of cases) {
      const out = assignSources({
        numGroups: 3,
        groupSize,
        alpha,
        split: 'deterministic',
        seed: 0,
      });
      expect(out.sampledFromPrior).toHaveLength(3 * groupSize);
      for (let g = 0; g < 3; g++) {
        const group = out.sampledFromPrior.slice(g * groupSize, (g + 1) * groupSize);
        expect(group).toEqual(Array.from({ length: groupSize }, (_, k) => k < nPrior));
      }
      expect(out.alphaEff).toBe(nPrior / groupSize);
      const degenerate = alpha > 0 && alpha < 1 && (nPrior === 0 || nPrior === groupSize);
      expect(out.warning !== undefined).toBe(degenerate);
    }
  });

  it('random split: pure function of the seed, Bernoulli(α) frequencies, alphaEff = α', () => {
    const args = { numGroups: 50, groupSize: 8, alpha: 0.3, split: 'random', seed: 11 } as const;
    const a = assignSources(args);
    expect(assignSources(args)).toEqual(a);
    expect(assignSources({ ...args, seed: 12 }).sampledFromPrior).not.toEqual(a.sampledFromPrior);
    const frequency = a.sampledFromPrior.filter(Boolean).length / 400;
    // 400 draws: standard deviation √(0.3·0.7/400) ≈ 0.023; 5σ band.
    expect(Math.abs(frequency - 0.3)).toBeLessThan(0.115);
    expect(a.alphaEff).toBe(0.3);
    expect(assignSources({ ...args, alpha: 0 }).sampledFromPrior.some(Boolean)).toBe(false);
    expect(assignSources({ ...args, alpha: 1 }).sampledFromPrior.every(Boolean)).toBe(true);
  });

  it('rejects bad arguments naming the function and argument', () => {
    const ok = { numGroups: 1, groupSize: 2, alpha: 0.5, split: 'deterministic', seed: 0 } as const;
    expect(() => assignSources({ ...ok, alpha: 1.5 })).toThrow(/assignSources: alpha/);
    expect(() => assignSources({ ...ok, alpha: Number.NaN })).toThrow(/assignSources: alpha/);
    expect(() => assignSources({ ...ok, groupSize: 0 })).toThrow(/assignSources: groupSize/);
    expect(() => assignSources({ ...ok, numGroups: 1.5 })).toThrow(/assignSources: numGroups/);
    expect(() => assignSources({ ...ok, split: 'other' as 'random' })).toThrow(
      /assignSources: split/,
    );
  });

  it('property: deterministic prior count per group is ⌊α·G + ½⌋ with exact rationals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 20 }), (G, k) => {
        const alpha = k / 20;
        const out = assignSources({
          numGroups: 1,
          groupSize: G,
          alpha,
          split: 'deterministic',
          seed: 0,
        });
        // exact: round half up of k·G/20 = ⌊(2kG + 20) / 40⌋ in integers
        const expected = Math.floor((2 * k * G + 20) / 40);
        expect(out.sampledFromPrior.filter(Boolean).length).toBe(expected);
      }),
      { seed: 3, numRuns: 200 },
    );
  });
});

describe('sampleTraces', () => {
  const id = (piece: string): number => tokenizer.id(piece);
  const ids = (text: string): number[] => tokenizer.encode(text);
  const contexts = [
    buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'one', answer: '11' }),
    buildContexts({ tokenizer, tags: DEFAULT_TAGS, question: 'two', answer: '22' }),
  ];

  it('one generate call, per-row prompt by source, stop ids, derived seeds, flags', async () => {
    const continuation: number[][] = [
      [...ids('ok fine'), id('</think>'), ...ids('junk')], // stop → well formed
      [...ids('a <answer> b'), id('</think>')], // tag inside the body → malformed
      [id('</think>')], // empty body → malformed
      [...ids('loooooooooong')], // budget → truncated
      [...ids('x'), id('<eos>'), ...ids('y')], // EOS → malformed
      [...ids('<think'), id('</think>')], // partial tag text is fine
    ];
    const policy = new ScriptedPolicy({
      vocabSize: tokenizer.vocabSize,
      script: (_prompt, { row }) => continuation[row] ?? [],
    });
    const sampledFromPrior = [true, false, true, true, false, false];
    const rollouts = await sampleTraces(policy, {
      contexts,
      groupSize: 3,
      sampledFromPrior,
      temperature: 1,
      maxTraceTokens: 8,
      seed: 5,
      tokenizer,
      tags: DEFAULT_TAGS,
    });
    policy.dispose();
    expect(policy.generateCalls).toBe(1);
    const request = policy.generateRequests[0];
    expect(request?.prompts).toEqual([
      contexts[0]?.priorPrefix,
      contexts[0]?.posteriorPrefix,
      contexts[0]?.priorPrefix,
      contexts[1]?.priorPrefix,
      contexts[1]?.posteriorPrefix,
      contexts[1]?.posteriorPrefix,
    ]);
    expect(request?.stopSequences).toEqual([[id('</think>')]]);
    expect(request?.eosId).toBe(tokenizer.eosId);
    expect(request?.maxNewTokens).toBe(8);
    expect(request?.seeds).toEqual([0, 1, 2, 3, 4, 5].map((r) => deriveSeed(5, r)));
    expect(new Set(request?.seeds).size).toBe(6);

    expect(rollouts.map((r) => [r.exampleIndex, r.row, r.source])).toEqual([
      [0, 0, 'prior'],
      [0, 1, 'posterior'],
      [0, 2, 'prior'],
      [1, 3, 'prior'],
      [1, 4, 'posterior'],
      [1, 5, 'posterior'],
    ]);
    expect(rollouts[0]?.traceIds).toEqual([...ids('ok fine'), id('</think>')]);
    expect(rollouts[0]?.text).toBe('ok fine</think>');
    expect(rollouts.map((r) => r.finishReason)).toEqual([
      'stop',
      'stop',
      'stop',
      'length',
      'eos',
      'stop',
    ]);
    expect(rollouts.map((r) => r.truncated)).toEqual([false, false, false, true, false, false]);
    expect(rollouts.map((r) => r.wellFormed)).toEqual([true, false, false, false, false, true]);
    expect(rollouts[3]?.traceIds).toHaveLength(8);
    expect(rollouts[4]?.traceIds).toEqual([...ids('x'), id('<eos>')]);
    expect(rollouts[0]?.samplerLogProbs).toBeUndefined();
  });

  it('is deterministic in the seed and returns sampler log-probs on request', async () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, seed: 4 });
    const args = {
      contexts,
      groupSize: 2,
      sampledFromPrior: [true, false, false, true],
      temperature: 1,
      maxTraceTokens: 6,
      seed: 9,
      tokenizer,
      tags: DEFAULT_TAGS,
      returnLogProbs: true,
    };
    const a = await sampleTraces(policy, args);
    const b = await sampleTraces(policy, args);
    const c = await sampleTraces(policy, { ...args, seed: 10 });
    expect(b).toEqual(a);
    expect(c.map((r) => r.traceIds)).not.toEqual(a.map((r) => r.traceIds));
    const first = a[1];
    const prompt = contexts[0]?.posteriorPrefix ?? [];
    first?.traceIds.forEach((tok, t) => {
      const seq = [...prompt, ...(first.traceIds.slice(0, t + 1) ?? [])];
      expect(first.samplerLogProbs?.[t]).toBeCloseTo(
        policy.referenceLogProb(seq, prompt.length + t),
        5,
      );
    });
    policy.dispose();
  });

  it('the <thinking> variant changes prompts, the stop sequence and the well-formed check at once', async () => {
    const chars = charTokenizer();
    const ctx = buildContexts({
      tokenizer: chars,
      tags: THINKING_TAGS,
      question: 'q',
      answer: 'a',
    });
    const scripts = [chars.encode('x</think>y</thinking>'), chars.encode('ok</thinking>')];
    const policy = new ScriptedPolicy({
      vocabSize: chars.vocabSize,
      script: (_p, { row }) => scripts[row] ?? [],
    });
    const rollouts = await sampleTraces(policy, {
      contexts: [ctx],
      groupSize: 2,
      sampledFromPrior: [true, false],
      temperature: 1,
      maxTraceTokens: 30,
      seed: 0,
      tokenizer: chars,
      tags: THINKING_TAGS,
    });
    expect(chars.decode(policy.generateRequests[0]?.prompts[0] ?? [])).toBe(
      'Question: q\n<thinking>',
    );
    expect(policy.generateRequests[0]?.stopSequences).toEqual([chars.encode('</thinking>')]);
    // '</think>' is not a tag of this variant, so row 0 is well formed.
    expect(rollouts.map((r) => [r.text, r.finishReason, r.wellFormed])).toEqual([
      ['x</think>y</thinking>', 'stop', true],
      ['ok</thinking>', 'stop', true],
    ]);
    policy.dispose();
  });

  it('rejects bad arguments naming the function and argument', async () => {
    const policy = new ScriptedPolicy({ vocabSize: tokenizer.vocabSize, maxContext: 20 });
    const args = {
      contexts,
      groupSize: 2,
      sampledFromPrior: [true, false, false, true],
      temperature: 1,
      maxTraceTokens: 4,
      seed: 1,
      tokenizer,
      tags: DEFAULT_TAGS,
    };
    await expect(sampleTraces(policy, { ...args, sampledFromPrior: [true] })).rejects.toThrow(
      /sampleTraces: sampledFromPrior has length 1, expected/,
    );
    await expect(sampleTraces(policy, { ...args, maxTraceTokens: 10 })).rejects.toThrow(
      /sampleTraces: maxTraceTokens 10 .* exceeds policy.maxContext 20/,
    );
    await expect(sampleTraces(policy, { ...args, contexts: [] })).rejects.toThrow(
      /sampleTraces: contexts/,
    );
    policy.dispose();
  });
});
