/**
 * Compute per run: `computeOf` sums the timing of a run's logged steps, and the report's compute
 * table shows each label's mean over its seeds, failed runs included (they spent it too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { computeOf } from '../compare.js';
import { computeTable, renderMarkdown } from './build.js';
import type { Results, RunCompute, RunResult } from './results.js';

const dir = mkdtempSync(join(tmpdir(), 'covrl-compute-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const compute = (steps: number, tokens: number, seconds: number): RunCompute => ({
  steps,
  sampledTokens: tokens,
  rows: 16 * steps,
  updates: 2 * steps,
  sampleSeconds: seconds / 2,
  oldScoreSeconds: seconds / 4,
  updateSeconds: seconds / 4,
  stepSeconds: seconds,
});

const run = (
  label: string,
  seed: number,
  c?: RunCompute,
  status: RunResult['status'] = 'done',
): RunResult => ({
  label,
  method: label,
  seed,
  variant: {},
  splits: {},
  curves: {},
  status,
  ...(c !== undefined ? { compute: c } : {}),
});

describe('compute per run', () => {
  it('computeOf sums the timing of the logged steps and ignores other records', () => {
    const lines = [
      { type: 'config', config: {} },
      {
        type: 'step',
        step: 1,
        metrics: {},
        timing: {
          'compute/sampled_tokens': 100,
          'compute/rows': 16,
          'compute/updates': 2,
          'time/sample_s': 0.5,
          'time/old_score_s': 0.25,
          'time/update_s': 1,
          'time/step_s': 2,
        },
      },
      { type: 'eval', step: 1, metrics: { 'eval/accuracy': 0.5 } },
      {
        type: 'step',
        step: 2,
        metrics: {},
        timing: {
          'compute/sampled_tokens': 50,
          'compute/rows': 16,
          'compute/updates': 2,
          'time/sample_s': 0.5,
          'time/old_score_s': 0.25,
          'time/update_s': 1,
          'time/step_s': 3,
        },
      },
    ];
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    expect(computeOf(dir)).toEqual({
      steps: 2,
      sampledTokens: 150,
      rows: 32,
      updates: 4,
      sampleSeconds: 1,
      oldScoreSeconds: 0.5,
      updateSeconds: 2,
      stepSeconds: 5,
    });
    expect(computeOf(join(dir, 'missing'))).toBeUndefined();
  });

  it("the table shows each label's mean over seeds, failed runs included", () => {
    const results = {
      command: 'covrl compare',
      createdAt: 'now',
      covrlVersion: '0',
      backend: 'cpu',
      splits: [],
      runs: [
        run('base', 1),
        run('covrl', 1, compute(10, 1000, 20)),
        run('covrl', 2, compute(10, 3000, 40), 'failed'),
        run('grpo', 1, compute(10, 2000, 10)),
      ],
    } as unknown as Results;
    const table = computeTable(results).split('\n');
    expect(table).toHaveLength(4);
    expect(table[2]).toBe('| covrl | 2 | 10 | 2000 | 20 | 15.0 | 7.5 | 7.5 | 30.0 | 3.00 |');
    expect(table[3]).toBe('| grpo | 1 | 10 | 2000 | 20 | 5.0 | 2.5 | 2.5 | 10.0 | 1.00 |');
    expect(renderMarkdown(results)).toContain('## Compute per run (mean over seeds)');
  });
});
