// Timing helpers for the benchmark: warm-up, then repeated timed calls; medians with min/max.
// With `node --expose-gc` (as `npm run bench` runs) a GC runs after the warm-up, outside the
// timed loop, so one variant's garbage is not collected during the next one's timing.
export interface Timing {
  median: number; // seconds
  min: number;
  max: number;
  n: number;
}

declare const gc: undefined | (() => void);

export function measure(fn: () => unknown, opts: { minTime?: number; maxReps?: number; warmup?: number } = {}): Timing {
  const minTime = opts.minTime ?? 1.0;
  const maxReps = opts.maxReps ?? 20000;
  const warmup = opts.warmup ?? 3;
  for (let i = 0; i < warmup; i++) fn();
  if (typeof gc === 'function') gc();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  while (times.length < maxReps) {
    const t0 = process.hrtime.bigint();
    fn();
    const t1 = process.hrtime.bigint();
    times.push(Number(t1 - t0) / 1e9);
    if (times.length >= 5 && Number(t1 - start) / 1e9 > minTime) break;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], n: times.length };
}

export async function measureAsync(fn: () => Promise<unknown>, opts: { minTime?: number; maxReps?: number; warmup?: number } = {}): Promise<Timing> {
  const minTime = opts.minTime ?? 1.0;
  const maxReps = opts.maxReps ?? 20000;
  for (let i = 0; i < (opts.warmup ?? 3); i++) await fn();
  if (typeof gc === 'function') gc();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  while (times.length < maxReps) {
    const t0 = process.hrtime.bigint();
    await fn();
    const t1 = process.hrtime.bigint();
    times.push(Number(t1 - t0) / 1e9);
    if (times.length >= 5 && Number(t1 - start) / 1e9 > minTime) break;
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1], n: times.length };
}

export function fmtTime(s: number): string {
  if (s < 1e-3) return `${(s * 1e6).toFixed(1)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(3)} ms`;
  return `${s.toFixed(2)} s`;
}

/** max |a - b| / (1 + |b|) */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}
