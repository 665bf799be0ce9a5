// Timing helpers for the benchmark.
//
// `interleaved` times every variant of one workload side by side: after a warm-up, R rounds, each
// giving every variant a short slice (a few calls, or `slice` seconds) in turn, the order rotated
// by one each round, so that drift in the machine's load (other processes, clock, page-cache state)
// hits every variant alike instead of whichever happened to run last. Reported: the median over all
// timed calls, the min, the max, N, and each round's median. With `node --expose-gc` (as
// `npm run bench` runs) a GC runs before each slice, outside the timed calls, so one variant's
// garbage is not collected during the next one's timing.
//
// `measure` (one variant alone: warm-up, then a timed loop) remains for the rows that have no
// competitor to interleave with (bench/mnist-step.ts, bench/shapes.ts).
export interface Timing {
  median: number; // seconds, over all timed calls
  min: number;
  max: number;
  n: number;
  /** The median of each round's calls (interleaved runs only): how stable the median is. */
  rounds?: number[];
  /** Set when a call threw: the variant was dropped from the later rounds (interleaved only). */
  error?: string;
}

declare const gc: undefined | (() => void);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function summarize(times: number[], rounds?: number[]): Timing {
  const s = times.slice().sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], n: s.length, rounds };
}

const medianOf = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One variant of a workload: a call as users make it (inputs in, output read back). */
export interface Variant {
  name: string;
  /** One call; a returned Promise is awaited inside the timed interval. */
  run: () => unknown;
  /** Makes this variant's framework state current (tfjs: its backend); called before each slice. */
  activate?: () => Promise<void>;
  /** At most this many timed calls in all (slow variants), spread over the rounds. */
  maxCalls?: number;
}

export interface InterleaveOptions {
  rounds: number;
  /** Seconds per variant per round (each slice has at least `minCalls` calls unless capped). */
  slice: number;
  minCalls?: number;
  /** Untimed calls per variant before the first round (1 for capped variants). */
  warmup?: number;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as { then?: unknown }).then === 'function';
}

/**
 * Times the variants interleaved (see the file comment); one Timing per variant, in order. A
 * variant whose call throws is dropped from the rest of the run, its Timing carrying the error.
 */
export async function interleaved(variants: Variant[], opts: InterleaveOptions): Promise<Timing[]> {
  const minCalls = opts.minCalls ?? 3;
  const times = variants.map(() => [] as number[]);
  const roundMedians = variants.map(() => [] as number[]);
  const errors: (string | undefined)[] = variants.map(() => undefined);
  const guard = async (i: number, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      errors[i] = (e as Error)?.message?.split('\n')[0] ?? String(e);
    }
  };
  for (const [i, v] of variants.entries()) {
    await guard(i, async () => {
      await v.activate?.();
      const w = v.maxCalls !== undefined ? 1 : opts.warmup ?? 3;
      for (let c = 0; c < w; c++) {
        const p = v.run();
        if (isThenable(p)) await p;
      }
    });
  }
  const n = variants.length;
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < n; k++) {
      const i = (k + r) % n;
      const v = variants[i];
      if (errors[i] !== undefined) continue;
      const cap = v.maxCalls;
      const left = cap === undefined ? Infinity : cap - times[i].length;
      if (left <= 0) continue;
      const perRound = cap === undefined ? Infinity : Math.max(1, Math.ceil(cap / opts.rounds));
      await guard(i, async () => {
        await v.activate?.();
        if (cap === undefined) {
          // one untimed call: the other variants just ran and evicted this one's caches
          const p = v.run();
          if (isThenable(p)) await p;
        }
        if (typeof gc === 'function') gc();
        // Yield for a moment: the previous variant's spinning worker threads park, and the finalizers
        // of the buffers the GC just collected run (hodu's pooled outputs go back to the pool there).
        await sleep(10);
        const slice: number[] = [];
        const start = process.hrtime.bigint();
        while (slice.length < Math.min(left, perRound)) {
          const t0 = process.hrtime.bigint();
          const p = v.run();
          if (isThenable(p)) await p;
          const t1 = process.hrtime.bigint();
          slice.push(Number(t1 - t0) / 1e9);
          if (slice.length >= minCalls && Number(t1 - start) / 1e9 > opts.slice) break;
        }
        times[i].push(...slice);
        roundMedians[i].push(medianOf(slice));
      });
    }
  }
  return variants.map((_, i) =>
    times[i].length ? { ...summarize(times[i], roundMedians[i]), error: errors[i] } : { median: NaN, min: NaN, max: NaN, n: 0, error: errors[i] ?? 'no calls' },
  );
}

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
  return summarize(times);
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
