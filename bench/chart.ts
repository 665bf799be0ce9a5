// The results chart as a dependency-free SVG: one group per workload, one horizontal bar per
// variant (median time, log scale shared by all groups), with the best ONNX Runtime median and the
// roofline floor of the workload marked as vertical lines.

export interface ChartBar {
  variant: string;
  median: number; // seconds
  label: string; // printed after the bar
}

export interface ChartGroup {
  workload: string;
  bars: ChartBar[];
  bestOrt?: number; // seconds
  floor?: number; // seconds: the roofline's lower bound for this workload
}

const COLORS: [RegExp, string][] = [
  [/^hodu dynamic/, '#6baed6'],
  [/^hodu script/, '#08519c'],
  [/^xla/, '#6a51a3'],
  [/^ort 1/, '#fdae6b'],
  [/^ort/, '#e6550d'],
  [/^tfjs wasm/, '#31a354'],
  [/^tfjs/, '#a1d99b'],
];
const colorOf = (variant: string): string => COLORS.find(([re]) => re.test(variant))?.[1] ?? '#969696';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function tickLabel(s: number): string {
  if (s < 1e-3) return `${Math.round(s * 1e6)} µs`;
  if (s < 1) return `${Math.round(s * 1e3)} ms`;
  return `${Math.round(s)} s`;
}

export function renderChart(title: string, groups: ChartGroup[]): string {
  const W = 980, labelW = 150, plotW = 560, top = 62, rowH = 17, headH = 22, gap = 8;
  const times = groups.flatMap((g) => [...g.bars.map((b) => b.median), ...(g.floor ? [g.floor] : [])]).filter((t) => t > 0);
  if (!times.length) times.push(1e-6, 1);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...times))));
  const hi = Math.max(lo * 10, Math.pow(10, Math.ceil(Math.log10(Math.max(...times)))));
  const x = (t: number) => labelW + (Math.log10(Math.max(t, lo) / lo) / Math.log10(hi / lo)) * plotW;

  // drawn in this order: bars, then the marker lines, then the text (with a white halo) on top
  const bars: string[] = [];
  const marks: string[] = [];
  const labels: string[] = [];
  let y = top;
  for (const g of groups) {
    const y0 = y;
    labels.push(`<text x="4" y="${y + 15}" font-weight="bold">${esc(g.workload)}</text>`);
    y += headH;
    for (const b of g.bars) {
      const w = Math.max(1, x(b.median) - labelW);
      bars.push(`<rect x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${colorOf(b.variant)}"/>`);
      labels.push(
        `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(b.variant)}</text>`,
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 12}" stroke="white" stroke-width="3" paint-order="stroke">${esc(b.label)}</text>`,
      );
      y += rowH;
    }
    const mark = (t: number, color: string, dash: string) =>
      marks.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y0 + headH - 2}" y2="${y + 1}" stroke="${color}" stroke-width="1.5" stroke-dasharray="${dash}"/>`);
    if (g.bestOrt) mark(g.bestOrt, '#e6550d', '4 2');
    if (g.floor) mark(g.floor, '#cb181d', '1 2');
    y += gap;
  }

  const grid: string[] = [];
  for (let t = lo; t <= hi * 1.0001; t *= 10) {
    grid.push(
      `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top - 4}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${x(t).toFixed(1)}" y="${top - 8}" text-anchor="middle" fill="#555">${tickLabel(t)}</text>`,
    );
  }
  const legendY = y + 14;
  const legend = [
    `<line x1="${labelW}" x2="${labelW + 24}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="#e6550d" stroke-width="1.5" stroke-dasharray="4 2"/>`,
    `<text x="${labelW + 30}" y="${legendY}">best onnxruntime-node median</text>`,
    `<line x1="${labelW + 230}" x2="${labelW + 254}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="#cb181d" stroke-width="1.5" stroke-dasharray="1 2"/>`,
    `<text x="${labelW + 260}" y="${legendY}">roofline floor (fp32 peak / memory bandwidth)</text>`,
  ];
  const H = legendY + 12;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="4" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<text x="4" y="30" fill="#555">median time per call, log scale (shorter is faster)</text>`,
    ...grid,
    ...bars,
    ...marks,
    ...labels,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
