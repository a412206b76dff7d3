/**
 * Base diagnostics against hand-counted fixtures: a scripted policy writes a correct
 * guess-and-check trace from the POSTERIOR template (it sees the answer) and, from the PRIOR
 * template, a correct one on one question and a false "yes" on the other, so every share is known.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TAGS } from '@covrl/sampler';
import { charTokenizer, ScriptedPolicy } from '@covrl/sampler/testing';
import type { Example } from '@covrl/data';
import { baseDiagnostics, formatDiagnostics } from './base-diagnostics.js';

const tok = charTokenizer();
const tags = DEFAULT_TAGS;

const SOLVED: Example = {
  id: 's',
  question: 'Which two of 12,35,8,27,19 sum to 46?',
  answer: '19,27',
  family: 'pair-sum',
  domain: 'math',
};
const MISSED: Example = {
  id: 'm',
  question: 'Which two of 11,33,24,17,40 sum to 41?',
  answer: '17,24',
  family: 'pair-sum',
  domain: 'math',
};
/** A family without a trace checker: counted for accuracy, not for trace statistics. */
const PLAIN: Example = {
  id: 'p',
  question: 'How many a in banana?',
  answer: '3',
  family: 'string-ops',
  domain: 'non-math',
};

function policy(): ScriptedPolicy {
  return new ScriptedPolicy({
    vocabSize: tok.vocabSize,
    fillId: tok.id(' '),
    script: (prompt, { row, request }) => {
      const text = tok.decode(prompt);
      const posterior = text.includes(tags.answerOpen);
      let out: string;
      if (text.includes(PLAIN.question)) {
        out = 'b0 a1 n1 a2 n2 a3, so 3</think>\n<answer>3</answer>';
      } else if (text.includes(SOLVED.question)) {
        out = posterior
          ? '12+35=47 no, 19+27=46 yes</think>'
          : // Sampled row 1 of each group answers against its own (correct) trace.
            `19+27=46 yes</think>\n<answer>${(request.temperature ?? 0) > 0 && row % 2 === 1 ? '8,12' : '19,27'}</answer>`;
      } else {
        out = posterior ? '17+24=41 yes</think>' : '11+33=41 yes</think>\n<answer>11,33</answer>';
      }
      return tok.encode(out);
    },
  });
}

describe('baseDiagnostics', () => {
  it('counts accuracy, pass@k, unsolved questions and trace step-correctness by template', async () => {
    const p = policy();
    const d = await baseDiagnostics({
      policy: p,
      tokenizer: tok,
      tags,
      splits: { hard: [SOLVED, MISSED, PLAIN], 'in-domain': [SOLVED] },
      samples: 2,
      temperature: 1,
      maxNewTokens: 60,
      maxTraceTokens: 40,
      seed: 3,
      batchSize: 2,
    });
    const hard = d['hard'];
    expect(hard?.questions).toBe(3);
    expect(hard?.greedy).toEqual({ count: 2, total: 3, rate: 2 / 3 });
    // SOLVED: 1 of 2 samples right; MISSED: 0; PLAIN: 2.
    expect(hard?.avgAtK).toEqual({ count: 3, total: 6, rate: 0.5 });
    expect(hard?.passAtK.count).toBe(2);
    expect(hard?.unsolvedAtK).toBe(1);
    // Prior traces of the checkable rows: SOLVED's two are step-correct, MISSED's two are not.
    expect(hard?.prior?.stepCorrect).toEqual({ count: 2, total: 4, rate: 0.5 });
    expect(hard?.prior?.reachesAnswer.count).toBe(2);
    expect(hard?.prior?.closed.count).toBe(4);
    // SOLVED row 1 answers 8,12 after a trace ending at 19,27; the other three follow.
    expect(hard?.answerFollowsTrace).toEqual({ count: 3, total: 4, rate: 0.75 });
    expect(hard?.posterior?.stepCorrect).toEqual({ count: 4, total: 4, rate: 1 });
    // Posterior traces only where asked.
    expect(d['in-domain']?.posterior).toBeUndefined();
    expect(d['in-domain']?.prior?.stepCorrect.rate).toBe(1);
    const lines = formatDiagnostics(d).join('\n');
    expect(lines).toContain('hard (3 questions): greedy 66.7% (2/3), avg@k 50.0% (3/6)');
    expect(lines).toContain('posterior traces: step-correct 100.0% (4/4)');
    p.dispose();
  });

  it('refuses k < 1', async () => {
    await expect(
      baseDiagnostics({
        policy: policy(),
        tokenizer: tok,
        tags,
        splits: {},
        samples: 0,
        temperature: 1,
        maxNewTokens: 10,
        maxTraceTokens: 10,
        seed: 1,
      }),
    ).rejects.toThrow(/samples must be a positive integer/);
  });
});
