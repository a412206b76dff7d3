/**
 * Build `report.md` and a self-contained `report.html` (inline SVG, no external assets) from
 * `results.json`. The report answers "which method learned most, and did it transfer?" with
 * numbers (means over seeds with 95 % intervals) and plots.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import {
  checkResults,
  isDone,
  type Results,
  type RunCompute,
  type RunResult,
  type SplitResult,
} from './results.js';
import { meanInterval, smooth, wilsonInterval, type Interval } from './stats.js';
import { barChart, escapeXml, lineChart, type Series } from './svg.js';

const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}` : 'n/a');

function accuracy(split: SplitResult | undefined, kind: 'greedy' | 'sampled'): number {
  if (split === undefined) return Number.NaN;
  const t = split[kind];
  return t.total > 0 ? t.correct / t.total : Number.NaN;
}

/** Runs grouped by label, in first-seen order. */
export function groupByLabel(runs: readonly RunResult[]): Map<string, RunResult[]> {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const list = groups.get(run.label) ?? [];
    list.push(run);
    groups.set(run.label, list);
  }
  return groups;
}

/**
 * Accuracy over seeds: a t-interval across seeds, clipped to [0, 1]. With a single seed, or when
 * every seed scored the same (greedy decoding of one base model is deterministic, so a zero-width
 * t-interval would claim false certainty), a Wilson interval on one seed's tally instead.
 */
export function accuracyInterval(
  runs: readonly RunResult[],
  split: string,
  kind: 'greedy' | 'sampled',
): Interval {
  const present = runs.filter((r) => r.splits[split] !== undefined);
  const values = present.map((r) => accuracy(r.splits[split], kind));
  const identical = values.every((v) => v === values[0]);
  if (present.length === 1 || identical) {
    // Identical seeds answered the same questions identically: one seed's tally is the evidence.
    const t = present[0]?.splits[split]?.[kind] ?? { correct: 0, total: 0 };
    return wilsonInterval(t.correct, t.total);
  }
  const i = meanInterval(values);
  return { ...i, low: Math.max(0, i.low), high: Math.min(1, i.high) };
}

function fmtInterval(i: Interval): string {
  if (!Number.isFinite(i.mean)) return 'n/a';
  return `${pct(i.mean)} [${pct(i.low)}, ${pct(i.high)}]`;
}

/** Mean curve over seeds of one metric, aligned on step. */
export function meanCurve(runs: readonly RunResult[], key: string): [number, number][] {
  const byStep = new Map<number, number[]>();
  for (const run of runs) {
    const steps = run.curves['step'] ?? [];
    const values = run.curves[key];
    if (values === undefined) continue;
    steps.forEach((s, i) => {
      const v = values[i];
      if (v === undefined || !Number.isFinite(v)) return;
      const list = byStep.get(s) ?? [];
      list.push(v);
      byStep.set(s, list);
    });
  }
  return [...byStep.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, vs]) => [s, vs.reduce((a, b) => a + b, 0) / vs.length]);
}

function curveSeries(groups: Map<string, RunResult[]>, key: string): Series[] {
  const out: Series[] = [];
  for (const [label, runs] of groups) {
    const pts = meanCurve(runs, key);
    if (pts.length === 0) continue;
    const ys = smooth(pts.map((p) => p[1]));
    out.push({ name: label, points: pts.map((p, i) => [p[0], ys[i] as number]) });
  }
  return out;
}

/** The resolved config recorded in results.json (`config.resolved`), when present. */
function resolvedOf(config: unknown): Record<string, Record<string, unknown>> {
  const r = (config as { resolved?: unknown } | null | undefined)?.resolved;
  return typeof r === 'object' && r !== null ? (r as Record<string, Record<string, unknown>>) : {};
}

const FORM_AXES: Readonly<Record<string, { title: string; yLabel: string }>> = {
  'log-prob-sum': { title: 'log p(y|x,z), nats', yLabel: 'nats (Σ log p over answer tokens)' },
  'log-prob-mean': { title: 'mean log p(y_k|x,z), nats per token', yLabel: 'nats per token' },
  prob: { title: 'p(y|x,z), probability', yLabel: 'probability' },
  'mean-prob': { title: 'mean token probability of y', yLabel: 'probability' },
  'geo-mean-prob': { title: 'geometric-mean token probability of y', yLabel: 'probability' },
};

/** RLPR's `r` in each `rlpr.rewardForm` (the reference answer after the model's own trace). */
const RLPR_FORMS: Readonly<Record<string, string>> = {
  'mean-prob': 'mean token probability of y',
  prob: 'p(y|x,z)',
  'geo-mean-prob': 'geometric-mean token probability of y',
};

/**
 * What `reward/mean` measures for a method, with its unit (the reward forms from the recorded
 * config, else the defaults): the title and y label of that method's reward chart.
 */
export function rewardAxis(method: string, config: unknown): { title: string; yLabel: string } {
  const c = resolvedOf(config);
  const form = (m: string, fallback: string): string => {
    const f = c[m]?.['rewardForm'];
    return typeof f === 'string' ? f : fallback;
  };
  switch (method) {
    case 'covrl':
      return FORM_AXES[form('covrl', 'log-prob-sum')] ?? { title: 'reward', yLabel: 'reward' };
    case 'verifree': {
      const a = FORM_AXES[form('verifree', 'prob')];
      return {
        title: `π(y|x,z) incl. </answer>, ${a?.title ?? 'probability'}`,
        yLabel: a?.yLabel ?? 'probability',
      };
    }
    case 'rlpr': {
      // The reward of `rlprRunner`: (1 − w)·d + w·format + repetition, d = clip(r − r′, 0, 1)
      // with `rlpr.debias` (r′ the same form without reasoning, frozen) and d = r without it.
      const num = (key: string, fallback: number): number => {
        const v = c['rlpr']?.[key];
        return typeof v === 'number' ? v : fallback;
      };
      const fw = num('formatWeight', 0.1);
      const debias = c['rlpr']?.['debias'] !== false;
      const r = RLPR_FORMS[form('rlpr', 'mean-prob')] ?? form('rlpr', 'mean-prob');
      const d = debias ? 'clip(r − r′, 0, 1)' : 'r';
      const repetition = `1[a ${num('repetitionWindow', 10)}-word window repeats ≥ ${num('repetitionMinRepeats', 10)}×]`;
      return {
        title:
          `${Number((1 - fw).toPrecision(6))}·${d} + ${fw}·format − ${repetition}, r = ${r}` +
          (debias ? '' : ' (not debiased)'),
        yLabel: 'reward (probability scale)',
      };
    }
    case 'grpo':
      return { title: 'verifier reward', yLabel: 'fraction of responses correct' };
    default:
      return { title: 'reward/mean', yLabel: 'reward' };
  }
}

interface Verdict {
  readonly lines: string[];
}

/** Plain-language answers to "which method learned most, and did it transfer?". */
export function verdict(results: Results): Verdict {
  const groups = groupByLabel(results.runs);
  const lines: string[] = [];
  const base = groups.get('base');
  for (const split of results.splits) {
    const ranked = [...groups.entries()]
      .filter(([label]) => label !== 'base')
      .map(([label, runs]) => ({ label, i: accuracyInterval(runs, split, 'greedy') }))
      .filter((x) => Number.isFinite(x.i.mean))
      .sort((a, b) => b.i.mean - a.i.mean);
    const best = ranked[0];
    if (best === undefined) continue;
    const baseI = base ? accuracyInterval(base, split, 'greedy') : undefined;
    const delta = baseI && Number.isFinite(baseI.mean) ? best.i.mean - baseI.mean : Number.NaN;
    const second = ranked[1];
    const worst = ranked[ranked.length - 1];
    if (second !== undefined && worst !== undefined && worst.i.mean === best.i.mean) {
      lines.push(
        `On **${split}**, every method scored the same greedy accuracy (${pct(best.i.mean)} %` +
          (baseI && Number.isFinite(baseI.mean) ? `; base model ${pct(baseI.mean)} %` : '') +
          '): no method separated from the others here.',
      );
      continue;
    }
    const separated = second !== undefined && best.i.low > second.i.high;
    lines.push(
      `On **${split}**, ${best.label} has the highest greedy accuracy (${fmtInterval(best.i)} %` +
        (Number.isFinite(delta)
          ? `, ${delta >= 0 ? '+' : '−'}${pct(Math.abs(delta))} points versus the base model`
          : '') +
        `)` +
        (second === undefined
          ? '.'
          : separated
            ? `, clearly ahead of ${second.label} (${fmtInterval(second.i)} %).`
            : `; its interval overlaps ${second.label}'s (${fmtInterval(second.i)} %), so the ranking is not settled at this budget.`),
    );
  }
  return { lines };
}

function accuracyTable(results: Results, kind: 'greedy' | 'sampled'): string {
  const groups = groupByLabel(results.runs);
  const head = `| method | seeds | ${results.splits.join(' | ')} |\n|---|---|${results.splits.map(() => '---').join('|')}|`;
  const rows = [...groups.entries()].map(
    ([label, runs]) =>
      `| ${label} | ${runs.length} | ${results.splits.map((s) => fmtInterval(accuracyInterval(runs, s, kind))).join(' | ')} |`,
  );
  return [head, ...rows].join('\n');
}

/** The (split, family) columns of the family table: each split's own families, sorted. */
export function familyColumns(results: Results): { split: string; family: string }[] {
  const splits = [...results.splits, ...results.runs.flatMap((r) => Object.keys(r.splits))].filter(
    (s, i, all) => all.indexOf(s) === i,
  );
  return splits.flatMap((split) =>
    [...new Set(results.runs.flatMap((r) => Object.keys(r.splits[split]?.byFamily ?? {})))]
      .sort()
      .map((family) => ({ split, family })),
  );
}

/**
 * Greedy accuracy per split and family, pooled over seeds. Splits are never pooled: the same
 * family appears in several (level-2 `addition` in-domain, level-3 `addition` in `hard`).
 */
function familyTable(results: Results): string {
  const groups = groupByLabel(results.runs);
  const columns = familyColumns(results);
  if (columns.length === 0) return '';
  const head =
    `| method | ${columns.map((c) => `${c.split}: ${c.family}`).join(' | ')} |\n` +
    `|---|${columns.map(() => '---').join('|')}|`;
  const rows = [...groups.entries()].map(([label, runs]) => {
    const cells = columns.map(({ split, family }) => {
      let correct = 0;
      let total = 0;
      for (const r of runs) {
        const t = r.splits[split]?.byFamily[family];
        if (t) {
          correct += t.correct;
          total += t.total;
        }
      }
      return total > 0 ? `${pct(correct / total)} (n=${total})` : 'n/a';
    });
    return `| ${label} | ${cells.join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}

/** The results restricted to runs that finished (failed and interrupted runs enter no table or plot). */
const finishedOnly = (results: Results): Results => ({
  ...results,
  runs: results.runs.filter(isDone),
});

/** What a partial comparison is missing, and the runs that did not finish with their reasons. */
function incompleteNotes(results: Results): string {
  const lines: string[] = [];
  const p = results.progress;
  if (p !== undefined && p.state !== 'complete') {
    lines.push(
      `**Incomplete:** ${p.recorded} of ${p.planned} runs recorded (${p.state === 'interrupted' ? 'interrupted' : 'still running when this was written'}); rerun the same command to continue.`,
    );
  }
  const unfinished = results.runs.filter((r) => !isDone(r));
  if (unfinished.length > 0) {
    lines.push(
      'Runs that did not finish (left out of every table and plot):',
      '',
      ...unfinished.map(
        (r) =>
          `- ${r.label}, seed ${r.seed}: **${r.status ?? 'done'}**${r.reason !== undefined ? ` (${r.reason})` : ''}`,
      ),
    );
  }
  return lines.length > 0 ? `\n${lines.join('\n')}\n` : '';
}

/**
 * What each label's runs spent, the mean over its seeds (failed and interrupted runs count: they
 * spent it): training steps, tokens sampled, optimizer updates and seconds per phase, so methods
 * are compared at a known cost.
 */
export function computeTable(results: Results): string {
  const rows = [...groupByLabel(results.runs.filter((r) => r.compute !== undefined))];
  if (rows.length === 0) return 'No run recorded its compute.';
  const mean = (runs: readonly RunResult[], f: (c: RunCompute) => number): number =>
    runs.reduce((a, r) => a + f(r.compute as RunCompute), 0) / runs.length;
  const head =
    '| label | runs | steps | sampled tokens | updates | sampling s | old-policy scoring s | updates s | total s | s per step |\n|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map(([label, runs]) => {
    const steps = mean(runs, (c) => c.steps);
    const total = mean(runs, (c) => c.stepSeconds);
    const cells = [
      steps.toFixed(0),
      mean(runs, (c) => c.sampledTokens).toFixed(0),
      mean(runs, (c) => c.updates).toFixed(0),
      mean(runs, (c) => c.sampleSeconds).toFixed(1),
      mean(runs, (c) => c.oldScoreSeconds).toFixed(1),
      mean(runs, (c) => c.updateSeconds).toFixed(1),
      total.toFixed(1),
      steps > 0 ? (total / steps).toFixed(2) : '',
    ];
    return `| ${label} | ${runs.length} | ${cells.join(' | ')} |`;
  });
  return [head, ...body].join('\n');
}

export function renderMarkdown(all: Results): string {
  const results = finishedOnly(all);
  const v = verdict(results);
  return `# covrl comparison report

Command: \`${results.command}\`
Created: ${results.createdAt} · covrl ${results.covrlVersion} · TF.js backend \`${results.backend}\`
${incompleteNotes(all)}
## Answer

${v.lines.length > 0 ? v.lines.map((l) => `- ${l}`).join('\n') : '- No evaluated runs.'}

Accuracies are percentages: the mean over seeds with a 95 % t-interval (a Wilson interval when there
is a single seed or every seed scored the same). Training used no verifier except for the \`grpo\` reference.

## Greedy pass@1 (%)

${accuracyTable(results, 'greedy')}

## Sampled avg@k (%)

${accuracyTable(results, 'sampled')}

## Greedy accuracy by split and family (%, pooled over seeds; n = questions × seeds)

${familyTable(results)}

## Compute per run (mean over seeds)

${computeTable(all)}

## Runs

| label | method | seed | variant | status | seconds | run directory |
|---|---|---|---|---|---|---|
${all.runs
  .map(
    (r) =>
      `| ${r.label} | ${r.method} | ${r.seed} | ${Object.entries(r.variant)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(
          ', ',
        )} | ${r.status ?? 'done'} | ${r.seconds !== undefined ? r.seconds.toFixed(0) : ''} | ${r.runDir ?? ''} |`,
  )
  .join('\n')}

Plots are in \`report.html\`; every number above is in \`results.json\`.
`;
}

/** The accuracy bars and one reward chart per method. */
function accuracyAndRewardCharts(results: Results, groups: Map<string, RunResult[]>): string[] {
  const trained = new Map([...groups].filter(([label]) => label !== 'base'));
  const charts: string[] = [];
  const bars = [...groups.entries()].flatMap(([label, runs]) =>
    results.splits.map((split) => {
      const i = accuracyInterval(runs, split, 'greedy');
      return { label, group: split, value: i.mean, low: i.low, high: i.high };
    }),
  );
  charts.push(
    barChart({
      title: 'Greedy accuracy by method (95 % CI)',
      yLabel: 'accuracy',
      bars,
      yMin: 0,
      yMax: 1,
    }),
  );
  // One reward chart per method: the rewards are different quantities in different units
  // (CoVRL's log-likelihood in nats, the others' probabilities or accuracies).
  const byMethod = new Map<string, Map<string, RunResult[]>>();
  for (const [label, runs] of trained) {
    const m = runs[0]?.method ?? label;
    const g = byMethod.get(m) ?? new Map<string, RunResult[]>();
    g.set(label, runs);
    byMethod.set(m, g);
  }
  for (const [method, labels] of byMethod) {
    // The run's own config where results.json has it, else the shared one.
    const own = [...labels.values()][0]?.[0]?.config;
    const axis = rewardAxis(method, own !== undefined ? { resolved: own } : results.config);
    charts.push(
      lineChart({
        title: `Training reward, ${method}: ${axis.title} (mean, smoothed)`,
        xLabel: 'step',
        yLabel: axis.yLabel,
        series: curveSeries(labels, 'reward/mean'),
      }),
    );
  }
  return charts;
}

/** CoVRL's prior/posterior rewards and KL, and the trace and response lengths. */
function trainingCharts(results: Results, groups: Map<string, RunResult[]>): string[] {
  const trained = new Map([...groups].filter(([label]) => label !== 'base'));
  const charts: string[] = [];
  const covrl = new Map([...trained].filter(([, runs]) => runs[0]?.method === 'covrl'));
  const priorPost: Series[] = [];
  for (const [label, runs] of covrl) {
    for (const key of ['reward/prior/mean', 'reward/posterior/mean']) {
      const pts = meanCurve(runs, key);
      if (pts.length > 0) priorPost.push({ name: `${label} ${key.split('/')[1]}`, points: pts });
    }
  }
  const covrlAxis = rewardAxis('covrl', results.config);
  charts.push(
    lineChart({
      title: `CoVRL: prior vs posterior reward (${covrlAxis.title})`,
      xLabel: 'step',
      yLabel: covrlAxis.yLabel,
      series: priorPost,
    }),
  );
  charts.push(
    lineChart({
      title: 'CoVRL composite KL estimate (kl/composite/mean)',
      xLabel: 'step',
      yLabel: 'nats per trace token',
      series: curveSeries(trained, 'kl/composite/mean'),
    }),
  );
  // Two different lengths, never on one axis: CoVRL and VeriFree sample a trace that stops at
  // `</think>`; RLPR and GRPO sample the whole response (trace, answer block and tags).
  for (const [key, title] of [
    ['length/trace_mean', 'Trace length (length/trace_mean: sampled trace incl. </think>)'],
    [
      'length/response_mean',
      'Response length (length/response_mean: trace, answer and tags of a full response)',
    ],
  ] as const) {
    const series = curveSeries(trained, key);
    if (series.length > 0) {
      charts.push(lineChart({ title, xLabel: 'step', yLabel: 'tokens', series }));
    }
  }
  return charts;
}

/** The self-contained HTML report: the verdict, every plot inline (SVG), the markdown tables. */
export function renderHtml(all: Results): string {
  const results = finishedOnly(all);
  const groups = groupByLabel(results.runs);
  const charts = [...accuracyAndRewardCharts(results, groups), ...trainingCharts(results, groups)];
  const md = renderMarkdown(all);
  const mdHtml = escapeXml(md);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>covrl comparison report</title>
<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
.charts{display:flex;flex-wrap:wrap;gap:12px}pre{white-space:pre-wrap;background:#f7f7f7;padding:1em;font-size:13px}</style>
</head><body>
<h1>covrl comparison report</h1>
<p>${escapeXml(results.command)} · ${escapeXml(results.createdAt)} · backend ${escapeXml(results.backend)}</p>
${incompleteNotes(all) !== '' ? `<pre>${escapeXml(incompleteNotes(all).trim())}</pre>` : ''}
<h2>Answer</h2><ul>${verdict(results)
    .lines.map((l) => `<li>${escapeXml(l).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')}</li>`)
    .join('')}</ul>
<h2>Plots</h2><div class="charts">${charts.join('\n')}</div>
<h2>Tables</h2><pre>${mdHtml}</pre>
</body></html>
`;
}

/** Write `results.json`, `report.md` and `report.html` into `dir`, each atomically. */
export async function writeReport(dir: string, results: Results): Promise<void> {
  await writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFileAtomic(join(dir, 'report.md'), renderMarkdown(results));
  await writeFileAtomic(join(dir, 'report.html'), renderHtml(results));
}

/** `covrl report <dir>`: rebuild the report files from `<dir>/results.json`. */
export async function rebuildReport(dir: string): Promise<Results> {
  const file = join(dir, 'results.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `${file}: cannot read results (${error instanceof Error ? error.message : String(error)}); run \`covrl compare\` first`,
    );
  }
  const results = checkResults(parsed, file);
  await writeFileAtomic(join(dir, 'report.md'), renderMarkdown(results));
  await writeFileAtomic(join(dir, 'report.html'), renderHtml(results));
  return results;
}
