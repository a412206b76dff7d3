/**
 * Dependency-free inline SVG charts for self-contained HTML reports: line charts for training
 * curves and bar charts with confidence intervals. Output is deterministic for the same input.
 */

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
];

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  );
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (lo === hi) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
}

const M = { top: 28, right: 130, bottom: 40, left: 56 };

function frame(title: string, width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img" aria-label="${escapeXml(title)}">` +
    `<rect width="${width}" height="${height}" fill="#fff"/>` +
    `<text x="${M.left}" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>${body}</svg>`
  );
}

function axes(
  width: number,
  height: number,
  x: (v: number) => number,
  y: (v: number) => number,
  xt: number[],
  yt: number[],
  xLabel: string,
  yLabel: string,
): string {
  const pw = width - M.left - M.right;
  const ph = height - M.top - M.bottom;
  let s = `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`;
  for (const t of yt) {
    s += `<line x1="${M.left}" x2="${M.left + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`;
    s += `<text x="${M.left - 4}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`;
  }
  for (const t of xt) {
    s += `<text x="${x(t).toFixed(1)}" y="${M.top + ph + 14}" text-anchor="middle">${fmt(t)}</text>`;
  }
  s += `<text x="${M.left + pw / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`;
  s += `<text transform="translate(12 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`;
  return s;
}

/** Roughly how wide a 13 px bold title is (sans-serif averages under 7.5 px a character). */
const titleWidth = (title: string): number => M.left + Math.ceil(7.5 * title.length) + 8;

/**
 * A line chart; non-finite points are skipped (they break the line). The chart widens to fit its
 * title (one line, never clipped).
 */
export function lineChart(spec: LineChartSpec): string {
  const width = Math.max(spec.width ?? 560, titleWidth(spec.title));
  const height = spec.height ?? 260;
  const pts = spec.series.flatMap((s) =>
    s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b)),
  );
  if (pts.length === 0) {
    return frame(
      spec.title,
      width,
      height,
      `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#777">no data</text>`,
    );
  }
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const pw = width - M.left - M.right;
  const ph = height - M.top - M.bottom;
  const x = (v: number): number => M.left + ((v - x0) / (x1 - x0)) * pw;
  const y = (v: number): number => M.top + ph - ((v - y0) / (y1 - y0)) * ph;
  let body = axes(width, height, x, y, ticks(x0, x1), ticks(y0, y1), spec.xLabel, spec.yLabel);
  spec.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length] as string;
    const segments: string[] = [];
    let current = '';
    for (const [a, b] of s.points) {
      if (!Number.isFinite(a) || !Number.isFinite(b)) {
        if (current) segments.push(current);
        current = '';
        continue;
      }
      current += `${current ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`;
    }
    if (current) segments.push(current);
    for (const d of segments)
      body += `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"/>`;
    const ly = M.top + 12 + i * 15;
    body += `<line x1="${width - M.right + 8}" x2="${width - M.right + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>`;
    body += `<text x="${width - M.right + 28}" y="${ly}">${escapeXml(s.name)}</text>`;
  });
  return frame(spec.title, width, height, body);
}

export interface Bar {
  readonly label: string;
  readonly group?: string;
  readonly value: number;
  readonly low?: number;
  readonly high?: number;
}

export interface BarChartSpec {
  readonly title: string;
  readonly yLabel: string;
  /** Bars grouped by `group` (one colour per group, legend on the right). */
  readonly bars: readonly Bar[];
  readonly width?: number;
  readonly height?: number;
  readonly yMin?: number;
  readonly yMax?: number;
}

/** A grouped bar chart with optional confidence-interval whiskers. */
export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 260;
  const labels = [...new Set(spec.bars.map((b) => b.label))];
  const groups = [...new Set(spec.bars.map((b) => b.group ?? ''))];
  const values = spec.bars
    .flatMap((b) => [b.value, b.low ?? b.value, b.high ?? b.value])
    .filter(Number.isFinite);
  const y0 = spec.yMin ?? Math.min(0, ...values);
  let y1 = spec.yMax ?? Math.max(...values, y0 + 1e-9);
  if (y1 === y0) y1 = y0 + 1;
  const pw = width - M.left - M.right;
  const ph = height - M.top - M.bottom;
  const y = (v: number): number =>
    M.top + ph - ((Math.min(Math.max(v, y0), y1) - y0) / (y1 - y0)) * ph;
  const slot = pw / Math.max(1, labels.length);
  const barW = (slot * 0.8) / Math.max(1, groups.length);
  let body = axes(width, height, () => 0, y, [], ticks(y0, y1), '', spec.yLabel);
  labels.forEach((label, li) => {
    body += `<text x="${(M.left + slot * (li + 0.5)).toFixed(1)}" y="${M.top + ph + 14}" text-anchor="middle">${escapeXml(label)}</text>`;
  });
  for (const b of spec.bars) {
    const li = labels.indexOf(b.label);
    const gi = groups.indexOf(b.group ?? '');
    const colour = PALETTE[gi % PALETTE.length] as string;
    const bx = M.left + slot * li + slot * 0.1 + gi * barW;
    if (Number.isFinite(b.value)) {
      const top = y(Math.max(b.value, y0));
      body += `<rect x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(y0) - top).toFixed(1)}" fill="${colour}" opacity="0.85"><title>${escapeXml(`${b.label} ${b.group ?? ''}: ${fmt(b.value)}`)}</title></rect>`;
    }
    if (
      b.low !== undefined &&
      b.high !== undefined &&
      Number.isFinite(b.low) &&
      Number.isFinite(b.high)
    ) {
      const cx = bx + (barW - 2) / 2;
      body += `<path d="M${cx.toFixed(1)},${y(b.low).toFixed(1)}V${y(b.high).toFixed(1)}M${(cx - 4).toFixed(1)},${y(b.low).toFixed(1)}h8M${(cx - 4).toFixed(1)},${y(b.high).toFixed(1)}h8" stroke="#222" fill="none"/>`;
    }
  }
  groups.forEach((g, gi) => {
    if (g === '') return;
    const ly = M.top + 12 + gi * 15;
    body += `<rect x="${width - M.right + 8}" y="${ly - 9}" width="12" height="10" fill="${PALETTE[gi % PALETTE.length]}"/>`;
    body += `<text x="${width - M.right + 26}" y="${ly}">${escapeXml(g)}</text>`;
  });
  return frame(spec.title, width, height, body);
}
