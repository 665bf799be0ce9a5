// Training curves as a standalone SVG (no native dependency): one panel per metric group (e.g.
// loss, accuracy), one polyline per series, axes with ticks.
import { writeFileSync } from 'fs';
import { describe, invalidArg } from '../errors';

export interface Series {
  name: string;
  /** y values; x is 1, 2, … unless `x` is given. */
  values: number[];
  x?: number[];
  /** Panel title this series goes to (default 'loss' when the name contains it, else the name). */
  panel?: string;
  color?: string;
}

export interface CurvesOptions {
  title?: string;
  /** Width of one panel in px (default 420). */
  width?: number;
  height?: number;
  xLabel?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const label = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** The SVG text of the curves. */
export function curvesSvg(series: Series[], options: CurvesOptions = {}): string {
  if (!Array.isArray(series) || series.length === 0) throw invalidArg(`curvesSvg: expected a non-empty array of series, got ${describe(series)}`);
  for (const s of series)
    if (!s || typeof s.name !== 'string' || !Array.isArray(s.values) || (s.x && s.x.length !== s.values.length))
      throw invalidArg(`curvesSvg: each series needs a name and values (and x of the same length), got ${describe(s)}`);
  const panelOf = (s: Series) => s.panel ?? (/loss/i.test(s.name) ? 'loss' : /acc/i.test(s.name) ? 'accuracy' : s.name);
  const panels = [...new Set(series.map(panelOf))];
  const W = options.width ?? 420;
  const H = options.height ?? 300;
  const m = { l: 56, r: 16, t: options.title ? 44 : 28, b: 40 };
  const total = W * panels.length;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${H}" viewBox="0 0 ${total} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${total}" height="${H}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${total / 2}" y="18" text-anchor="middle" font-size="14">${esc(options.title)}</text>`);
  panels.forEach((panel, pi) => {
    const ss = series.filter((s) => panelOf(s) === panel);
    const pts = ss.flatMap((s) => s.values.map((v, i) => [s.x ? s.x[i] : i + 1, v] as const)).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const x0 = pi * W + m.l;
    const x1 = (pi + 1) * W - m.r;
    const y0 = H - m.b;
    const y1 = m.t;
    let [xlo, xhi] = pts.length ? [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))] : [0, 1];
    let [ylo, yhi] = pts.length ? [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))] : [0, 1];
    if (xhi === xlo) (xlo -= 1), (xhi += 1);
    if (yhi === ylo) (ylo -= Math.abs(ylo) * 0.1 || 1), (yhi += Math.abs(yhi) * 0.1 || 1);
    const pad = (yhi - ylo) * 0.05;
    ylo -= pad;
    yhi += pad;
    const sx = (x: number) => x0 + ((x - xlo) / (xhi - xlo)) * (x1 - x0);
    const sy = (y: number) => y0 - ((y - ylo) / (yhi - ylo)) * (y0 - y1);
    parts.push(`<text x="${(x0 + x1) / 2}" y="${m.t - 8}" text-anchor="middle" font-size="12" font-weight="bold">${esc(panel)}</text>`);
    for (const t of niceTicks(ylo, yhi))
      parts.push(`<line x1="${x0}" x2="${x1}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/><text x="${x0 - 4}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
    for (const t of niceTicks(xlo, xhi))
      parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${y0}" y2="${y0 + 4}" stroke="#333"/><text x="${sx(t).toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${label(t)}</text>`);
    parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#333"/>`);
    if (options.xLabel) parts.push(`<text x="${(x0 + x1) / 2}" y="${H - 6}" text-anchor="middle">${esc(options.xLabel)}</text>`);
    ss.forEach((s, si) => {
      const color = s.color ?? COLORS[(series.indexOf(s)) % COLORS.length];
      const p = s.values
        .map((v, i) => [s.x ? s.x[i] : i + 1, v] as const)
        .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
        .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      if (p.length) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${p.join(' ')}"/>`);
      if (p.length === 1) parts.push(`<circle cx="${p[0].split(',')[0]}" cy="${p[0].split(',')[1]}" r="2.5" fill="${color}"/>`);
      const ly = y1 + 14 + si * 14;
      parts.push(`<line x1="${x1 - 110}" x2="${x1 - 94}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/><text x="${x1 - 90}" y="${ly}">${esc(s.name)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Writes `curvesSvg(series, options)` to `path`. */
export function writeCurvesSvg(path: string, series: Series[], options: CurvesOptions = {}): void {
  if (typeof path !== 'string' || !path) throw invalidArg(`writeCurvesSvg: path must be a non-empty string, got ${describe(path)}`);
  writeFileSync(path, curvesSvg(series, options));
}
