/**
 * `traceCheckMetrics`: step-correctness and answer-reaching of a step's traces by source, from
 * the family's own trace checker, on traces written by the family (clean, and cut short).
 */
import { describe, expect, it } from 'vitest';
import { families, Rng } from '@covrl/data';
import type { TraceRollout } from '@covrl/sampler';
import type { BatchRecord } from '../../train/method-spec.js';
import { traceCheckMetrics } from './traces.js';

const ex = families.addition.generate({ seed: 3, count: 1, difficulty: 2 })[0]!;
const clean = families.addition.writeTrace(ex, { errorRate: 0, rng: new Rng(11) }).trace;

function row(source: 'prior' | 'posterior', text: string, i: number): TraceRollout {
  return {
    exampleIndex: 0,
    row: i,
    source,
    traceIds: [],
    finishReason: 'stop',
    truncated: false,
    wellFormed: true,
    text,
    seed: 0,
  };
}

describe('traceCheckMetrics', () => {
  it('counts step-correct and answer-reaching traces per source', () => {
    const record = {
      batch: {
        examples: [ex],
        contexts: [],
        terms: {},
        rollouts: [
          row('prior', `${clean}</think>`, 0),
          row('prior', `${clean.slice(0, -2)}</think>`, 1),
          row('posterior', `${clean}</think>`, 2),
          row('posterior', clean, 3),
        ],
      },
    } as unknown as BatchRecord<TraceRollout>;
    expect(traceCheckMetrics(record, '</think>')).toEqual({
      'trace/step_correct/prior': 0.5,
      'trace/reaches_answer/prior': 0.5,
      'trace/step_correct/posterior': 1,
      'trace/reaches_answer/posterior': 1,
    });
  });

  it('logs nothing for families without a checker', () => {
    const other = families['string-ops'].generate({ seed: 1, count: 1, difficulty: 1 })[0]!;
    const record = {
      batch: {
        examples: [other],
        contexts: [],
        terms: {},
        rollouts: [row('prior', 'x</think>', 0)],
      },
    } as unknown as BatchRecord<TraceRollout>;
    expect(traceCheckMetrics(record, '</think>')).toEqual({});
  });
});
