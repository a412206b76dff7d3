import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  accuracyInterval,
  familyColumns,
  meanCurve,
  rebuildReport,
  renderHtml,
  renderMarkdown,
  rewardAxis,
  verdict,
  writeReport,
} from './build.js';
import type { Results, RunResult } from './results.js';
import { meanInterval, smooth, wilsonInterval } from './stats.js';
import { barChart, lineChart, ticks } from './svg.js';

const dir = mkdtempSync(join(tmpdir(), 'covrl-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(label: string, seed: number, inDomain: number, transfer: number): RunResult {
  const method = label === 'base' ? 'base' : label;
  return {
    label,
    method,
    seed,
    variant: {},
    splits: {
      'in-domain': {
        greedy: { correct: inDomain, total: 100 },
        sampled: { correct: inDomain * 2, total: 400, k: 4 },
        byFamily: { addition: { correct: inDomain, total: 100 } },
      },
      transfer: {
        greedy: { correct: transfer, total: 100 },
        sampled: { correct: transfer, total: 400, k: 4 },
        byFamily: { 'string-ops': { correct: transfer, total: 100 } },
      },
      // The same family as in-domain, at a harder level: never pooled with it.
      hard: {
        greedy: { correct: 1, total: 50 },
        sampled: { correct: 2, total: 200, k: 4 },
        byFamily: { addition: { correct: 1, total: 50 } },
      },
    },
    curves: {
      step: [1, 2, 3],
      'reward/mean': [seed, seed + 1, seed + 2],
      'reward/prior/mean': [-3, -2, -1],
      // CoVRL logs its sampled trace's length, RLPR its whole response's.
      ...(method === 'covrl' ? { 'length/trace_mean': [30, 31, 32] } : {}),
      ...(method === 'rlpr' ? { 'length/response_mean': [40, 41, 42] } : {}),
    },
  };
}

const results: Results = {
  command: 'covrl compare --preset quick',
  createdAt: '2026-11-22T00:00:00Z',
  covrlVersion: '0.1.0',
  backend: 'wasm',
  config: {},
  splits: ['in-domain', 'transfer', 'hard'],
  runs: [
    run('base', 1, 30, 20),
    run('base', 2, 32, 22),
    run('covrl', 1, 60, 30),
    run('covrl', 2, 64, 34),
    run('rlpr', 1, 40, 25),
    run('rlpr', 2, 42, 27),
  ],
};

describe('stats', () => {
  it('meanInterval uses the t quantile over seeds', () => {
    const i = meanInterval([1, 2, 3]);
    expect(i.mean).toBe(2);
    // sd = 1, n = 3, t(2) = 4.303 → half width 4.303/sqrt(3)
    expect(i.high - i.mean).toBeCloseTo(4.303 / Math.sqrt(3), 6);
    expect(meanInterval([5])).toEqual({ mean: 5, low: 5, high: 5, n: 1 });
  });
  it('wilsonInterval matches a hand-computed value', () => {
    const i = wilsonInterval(50, 100);
    expect(i.mean).toBe(0.5);
    expect(i.low).toBeCloseTo(0.4038, 3);
    expect(i.high).toBeCloseTo(0.5962, 3);
    expect(wilsonInterval(0, 10).low).toBe(0);
  });
  it('smooth is an EMA that skips leading non-finite values', () => {
    expect(smooth([1, 3], 0.5)).toEqual([1, 2]);
  });
});

describe('svg', () => {
  it('ticks are round numbers covering the range', () => {
    expect(ticks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
  it('line chart draws one path per finite segment and a legend entry per series', () => {
    const svg = lineChart({
      title: 'T',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'a<b',
          points: [
            [0, 1],
            [1, Number.NaN],
            [2, 3],
            [3, 4],
          ],
        },
        {
          name: 'c',
          points: [
            [0, 0],
            [3, 1],
          ],
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(3);
    expect(svg).toContain('a&lt;b');
  });
  it('bar chart draws whiskers for intervals', () => {
    const svg = barChart({
      title: 'B',
      yLabel: 'acc',
      bars: [{ label: 'm', group: 'g', value: 0.5, low: 0.4, high: 0.6 }],
    });
    expect(svg).toContain('<rect x=');
    expect(svg).toMatch(/<path d="M[^"]+V/);
  });
});

describe('report', () => {
  it('ranks methods and compares to the base model in the verdict', () => {
    const v = verdict(results).lines;
    expect(v[0]).toContain('On **in-domain**, covrl has the highest greedy accuracy (62.0');
    expect(v[0]).toContain('+31.0 points versus the base model');
    expect(
      accuracyInterval(
        results.runs.filter((r) => r.label === 'covrl'),
        'in-domain',
        'greedy',
      ).mean,
    ).toBeCloseTo(0.62, 10);
  });
  it('averages curves over seeds by step', () => {
    expect(
      meanCurve(
        results.runs.filter((r) => r.label === 'covrl'),
        'reward/mean',
      ),
    ).toEqual([
      [1, 1.5],
      [2, 2.5],
      [3, 3.5],
    ]);
  });
  it('renders markdown tables and a self-contained html page', () => {
    const md = renderMarkdown(results);
    expect(md).toContain('| covrl | 2 |');
    const html = renderHtml(results);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/src=|href="http/);
  });
  it('breaks the family table down by split: one family in two splits is two columns', () => {
    expect(familyColumns(results)).toEqual([
      { split: 'in-domain', family: 'addition' },
      { split: 'transfer', family: 'string-ops' },
      { split: 'hard', family: 'addition' },
    ]);
    const md = renderMarkdown(results);
    expect(md).toContain(
      '| method | in-domain: addition | transfer: string-ops | hard: addition |',
    );
    // covrl: 60 + 64 of 200 in-domain, 2 of 100 on hard (pooled over its two seeds).
    expect(md).toContain('| covrl | 62.0 (n=200) | 32.0 (n=200) | 2.0 (n=100) |');
  });
  it('plots each reward on its own axis with its unit, and trace and response lengths apart', () => {
    const html = renderHtml(results);
    const titles = [...html.matchAll(/aria-label="([^"]*)"/g)].map((m) => m[1] ?? '');
    const rewardCharts = titles.filter((t) => t.startsWith('Training reward'));
    expect(rewardCharts).toEqual([
      'Training reward, covrl: log p(y|x,z), nats (mean, smoothed)',
      'Training reward, rlpr: 0.9·clip(r − r′, 0, 1) + 0.1·format − 1[a 10-word window repeats ≥ 10×], r = mean token probability of y (mean, smoothed)',
    ]);
    expect(html).toContain('nats (Σ log p over answer tokens)');
    expect(titles).toContain(
      'Trace length (length/trace_mean: sampled trace incl. &lt;/think&gt;)',
    );
    expect(titles).toContain(
      'Response length (length/response_mean: trace, answer and tags of a full response)',
    );
    // No chart draws both lengths: the covrl series is only in the trace chart.
    const charts = html.split('<svg').slice(1);
    const trace = charts.find((c) => c.includes('aria-label="Trace length'));
    const response = charts.find((c) => c.includes('aria-label="Response length'));
    expect(trace).toContain('>covrl<');
    expect(trace).not.toContain('>rlpr<');
    expect(response).toContain('>rlpr<');
    expect(response).not.toContain('>covrl<');
  });
  it('reads the reward units from the recorded config', () => {
    expect(rewardAxis('covrl', { resolved: { covrl: { rewardForm: 'mean-prob' } } })).toEqual({
      title: 'mean token probability of y',
      yLabel: 'probability',
    });
    expect(rewardAxis('grpo', {}).yLabel).toBe('fraction of responses correct');
    expect(rewardAxis('verifree', {}).title).toContain('π(y|x,z)');
  });
  it("names RLPR's reward exactly: every term, the recorded weights and whether it is debiased", () => {
    const rlpr = (values: Record<string, unknown>) =>
      rewardAxis('rlpr', { resolved: { rlpr: values } }).title;
    expect(rlpr({})).toBe(
      '0.9·clip(r − r′, 0, 1) + 0.1·format − 1[a 10-word window repeats ≥ 10×], r = mean token probability of y',
    );
    expect(
      rlpr({
        debias: false,
        formatWeight: 0.25,
        repetitionWindow: 5,
        repetitionMinRepeats: 3,
        rewardForm: 'geo-mean-prob',
      }),
    ).toBe(
      '0.75·r + 0.25·format − 1[a 5-word window repeats ≥ 3×], r = geometric-mean token probability of y (not debiased)',
    );
  });
  it('widens a line chart to fit a long title, never clipping it', () => {
    const series = [{ name: 'a', points: [[1, 1] as const, [2, 2] as const] }];
    const width = (title: string) =>
      Number(/width="(\d+)"/.exec(lineChart({ title, xLabel: 'x', yLabel: 'y', series }))?.[1]);
    expect(width('short')).toBe(560);
    expect(width('x'.repeat(120))).toBeGreaterThan(56 + 7 * 120);
  });
  it('writes the three files and rebuilds them from results.json', async () => {
    await writeReport(dir, results);
    const before = readFileSync(join(dir, 'report.md'), 'utf8');
    rmSync(join(dir, 'report.md'));
    await rebuildReport(dir);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toBe(before);
    writeFileSync(join(dir, 'results.json'), '{"runs": 3, "splits": []}');
    await expect(rebuildReport(dir)).rejects.toThrow(
      /results.json: field 'runs': expected an array/,
    );
  });
});
