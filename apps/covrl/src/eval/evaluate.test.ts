/**
 * Evaluation against hand-counted fixtures: a scripted policy answers by family, differently when
 * greedy and when sampled, so the per-family and per-domain tallies of pass@1 and avg@k are known;
 * `answerLogProb` is checked against a naive loop over the policy's reference log-probs in
 * PRIOR-SCORE after the greedy trace.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { buildContexts, DEFAULT_TAGS } from '@covrl/sampler';
import { charTokenizer, ScriptedPolicy } from '@covrl/sampler/testing';
import type { Example } from '@covrl/data';
import { evaluate, greedyTraceIds } from './evaluate.js';

const tok = charTokenizer();
const tags = DEFAULT_TAGS;

const EXAMPLES: Example[] = [
  { id: 'a1', question: 'What is 1+1?', answer: '2', family: 'fam-a', domain: 'math' },
  { id: 'a2', question: 'What is 2+2?', answer: '4', family: 'fam-a', domain: 'math' },
  { id: 'b1', question: 'Is it so?', answer: 'yes', family: 'fam-b', domain: 'non-math' },
];

const MAX_NEW = 40;

/**
 * Greedy: fam-a right, fam-b never closes its trace (runs out of budget). Sampled (k = 2): fam-a
 * right on even rows only, fam-b always right.
 */
function policy(): ScriptedPolicy {
  return new ScriptedPolicy({
    vocabSize: tok.vocabSize,
    fillId: tok.id(' '),
    script: (prompt, { row, request }) => {
      const text = tok.decode(prompt);
      const ex = EXAMPLES.find((e) => text.includes(e.question)) as Example;
      const greedy = request.temperature === 0;
      let out: string;
      if (ex.family === 'fam-a') {
        const right = greedy || row % 2 === 0;
        out = `sum it</think>\n<answer>${right ? ex.answer : '9'}</answer>`;
      } else {
        out = greedy ? 'x'.repeat(MAX_NEW + 5) : `sure</think>\n<answer>${ex.answer}</answer>`;
      }
      return tok.encode(out);
    },
  });
}

describe('evaluate', () => {
  it('tallies greedy pass@1 and sampled avg@k in total, per family and per domain', async () => {
    const p = policy();
    const r = await evaluate({
      policy: p,
      tokenizer: tok,
      tags,
      examples: EXAMPLES,
      samples: 2,
      temperature: 1,
      maxNewTokens: MAX_NEW,
      seed: 3,
    });
    expect(r.greedy).toEqual({ correct: 2, total: 3 });
    expect(r.byFamily).toEqual({
      'fam-a': { correct: 2, total: 2 },
      'fam-b': { correct: 0, total: 1 },
    });
    expect(r.byDomain).toEqual({
      math: { correct: 2, total: 2 },
      'non-math': { correct: 0, total: 1 },
    });
    expect(r.sampled).toEqual({ correct: 4, total: 6, k: 2 });
    expect(r.sampledByFamily).toEqual({
      'fam-a': { correct: 2, total: 4 },
      'fam-b': { correct: 2, total: 2 },
    });
    expect(r.sampledByDomain).toEqual({
      math: { correct: 2, total: 4 },
      'non-math': { correct: 2, total: 2 },
    });
    p.dispose();
  });

  it("answerLogProb is the mean of log p(y | x, z) in PRIOR-SCORE after the model's greedy trace", async () => {
    const p = policy();
    const before = tf.memory().numTensors;
    const r = await evaluate({
      policy: p,
      tokenizer: tok,
      tags,
      examples: EXAMPLES,
      samples: 0,
      temperature: 1,
      maxNewTokens: MAX_NEW,
      seed: 3,
    });
    expect(tf.memory().numTensors).toBe(before);
    // Naive oracle: the greedy traces as the script writes them (fam-b's closed after the budget).
    const expected = EXAMPLES.map((ex) => {
      const c = buildContexts({ tokenizer: tok, tags, question: ex.question, answer: ex.answer });
      const trace =
        ex.family === 'fam-a'
          ? tok.encode('sum it</think>')
          : [...tok.encode('x'.repeat(MAX_NEW)), ...c.thinkClose];
      const seq = [...c.priorPrefix, ...trace, ...c.answerOpen, ...c.answer, ...c.answerClose];
      const start = c.priorPrefix.length + trace.length + c.answerOpen.length;
      let sum = 0;
      for (let j = start; j < start + c.answer.length; j++) sum += p.referenceLogProb(seq, j);
      return { sum, length: seq.length };
    });
    const mean = expected.reduce((a, e) => a + e.sum, 0) / expected.length;
    expect(r.answerLogProbQuestions).toBe(3);
    expect(r.answerLogProb).toBeCloseTo(mean, 4);
    expect(r.answerLogProb).toBeLessThan(0);

    // A question whose PRIOR-SCORE sequence does not fit the model is left out of the mean only.
    const limit = Math.max(...expected.slice(0, 2).map((e) => e.length));
    expect((expected[2] as { length: number }).length).toBeGreaterThan(limit);
    const cut = await evaluate({
      policy: p,
      tokenizer: tok,
      tags,
      examples: EXAMPLES,
      samples: 0,
      temperature: 1,
      maxNewTokens: MAX_NEW,
      maxContext: limit,
      seed: 3,
    });
    expect(cut.answerLogProbQuestions).toBe(2);
    expect(cut.answerLogProb).toBeCloseTo(
      ((expected[0]?.sum ?? 0) + (expected[1]?.sum ?? 0)) / 2,
      4,
    );
    expect(cut.greedy).toEqual(r.greedy);
    p.dispose();
  });

  it('greedyTraceIds cuts at the first </think> and closes an unclosed trace (EOS dropped)', () => {
    const close = tok.encode('</think>');
    const ids = tok.encode('ab</think>\n<answer>1</answer>');
    expect(greedyTraceIds({ responseIds: ids }, { thinkClose: close })).toEqual(
      tok.encode('ab</think>'),
    );
    const eos = tok.id('_');
    expect(
      greedyTraceIds({ responseIds: [...tok.encode('ab'), eos] }, { thinkClose: close }, eos),
    ).toEqual(tok.encode('ab</think>'));
  });
});
