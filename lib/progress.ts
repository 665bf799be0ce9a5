// A progress line for long loops: a redrawn bar on a terminal, plain lines (a few per loop) in
// logs and CI, where carriage returns would pile up.

export interface ProgressOptions {
  /** Text before the bar (e.g. 'epoch 3'). */
  label?: string;
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the terminal (true) or plain-line (false) mode; default: the stream's isTTY, off when CI is set. */
  tty?: boolean;
  /** Plain mode: write a line every this many percent (default 25). */
  everyPercent?: number;
  /** Terminal mode: redraw at most this often, ms (default 100). */
  minIntervalMs?: number;
}

/** Values shown after the bar, e.g. `{ loss: 0.31, acc: 0.92 }`. */
export type ProgressInfo = Record<string, number | string>;

function fmt(info: ProgressInfo): string {
  return Object.entries(info)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : v}`)
    .join('  ');
}

function dur(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const r = Math.round(s);
  const m = Math.floor(r / 60);
  return `${m}m${String(r - 60 * m).padStart(2, '0')}s`;
}

/**
 * Progress of a loop of `total` steps.
 * ```ts
 * const bar = new Progress(loader.batchCount, { label: `epoch ${e}` });
 * for (...) { ...; bar.tick({ loss }); }
 * bar.done({ acc });
 * ```
 */
export class Progress {
  readonly total: number;
  readonly tty: boolean;
  current = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private nextPct: number;
  private info: ProgressInfo = {};
  private readonly out: NonNullable<ProgressOptions['stream']>;
  private finished = false;

  constructor(total: number, private readonly options: ProgressOptions = {}) {
    if (!Number.isInteger(total) || total < 0) throw new RangeError(`Progress: total must be an integer >= 0, got ${total}`);
    this.total = total;
    this.out = options.stream ?? process.stderr;
    this.tty = options.tty ?? (!!this.out.isTTY && !process.env.CI);
    this.nextPct = options.everyPercent ?? 25;
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** The text of the line now (without terminal control characters). */
  line(width = 80): string {
    const frac = this.total ? Math.min(this.current / this.total, 1) : 1;
    const el = this.elapsed;
    const eta = this.current ? (el / this.current) * (this.total - this.current) : NaN;
    const head = `${this.options.label ? this.options.label + ' ' : ''}`;
    const tail = ` ${this.current}/${this.total} ${dur(el)}<${dur(eta)}${Object.keys(this.info).length ? '  ' + fmt(this.info) : ''}`;
    if (!this.tty) return `${head}${(frac * 100).toFixed(0).padStart(3)}%${tail}`;
    const barW = Math.max(10, Math.min(30, width - head.length - tail.length - 8));
    const filled = Math.round(frac * barW);
    return `${head}[${'='.repeat(filled)}${filled < barW ? '>' : ''}${' '.repeat(Math.max(barW - filled - 1, 0))}] ${(frac * 100).toFixed(0).padStart(3)}%${tail}`;
  }

  /** Advances by `n` steps (default 1) and updates the shown values. */
  tick(info?: ProgressInfo, n = 1): void {
    this.current = Math.min(this.current + n, this.total);
    if (info) this.info = { ...this.info, ...info };
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw >= (this.options.minIntervalMs ?? 100) || this.current === this.total) {
        this.lastDraw = now;
        this.out.write(`\r${this.line(this.out.columns ?? 80)}\x1b[K`);
      }
    } else if (this.total && (this.current * 100) / this.total >= this.nextPct && this.current < this.total) {
      const every = this.options.everyPercent ?? 25;
      while ((this.current * 100) / this.total >= this.nextPct) this.nextPct += every;
      this.out.write(this.line() + '\n');
    }
  }

  /** Ends the line (a final plain line in log mode); returns the elapsed seconds. */
  done(info?: ProgressInfo): number {
    if (this.finished) return this.elapsed;
    this.finished = true;
    if (info) this.info = { ...this.info, ...info };
    this.current = this.total;
    if (this.tty) this.out.write(`\r${this.line(this.out.columns ?? 80)}\x1b[K\n`);
    else this.out.write(this.line() + '\n');
    return this.elapsed;
  }
}
