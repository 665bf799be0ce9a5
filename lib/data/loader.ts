// Batching: DataLoader and data.batches() over tensors or typed arrays. Rows (the first dim) are
// copied into fresh contiguous batch tensors in JS (one memcpy per row), so batches can be fed to
// a script with addInput or used directly in dynamic mode.
import { AnyTypedArray, DType, dtypeInfo, dtypeOfTypedArray } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Storage } from '../storage';
import { Tensor } from '../tensor';
import { DataRng } from './rng';

/** A typed array with the shape of its rows' container: `shape[0]` is the row count. */
export interface ArrayColumn {
  data: AnyTypedArray;
  shape: readonly number[];
  /** Defaults to the typed array's natural dtype. */
  dtype?: DType;
}

/** One data column: a tensor (rows along dim 0), a shaped typed array, or a flat typed array (one value per row). */
export type Column = Tensor | ArrayColumn | AnyTypedArray;

/** Named columns (`{ x, y }`) or positional ones (`[x, y]`). */
export type Columns = Record<string, Column> | Column[];

/** A batch has the same keys (or positions) as the columns it was cut from. */
export type Batch<C> = { [K in keyof C]: Tensor };

export interface LoaderOptions<C> {
  /** Rows per batch (default 32). */
  batchSize?: number;
  /** Visit rows in a new random order each epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffle; epoch e uses the stream of (seed, e), so runs repeat exactly (default 0). */
  seed?: number;
  /** Drop a last batch smaller than batchSize (default false). Scripts with a fixed batch dim want true. */
  dropLast?: boolean;
  /** Applied to each batch before it is returned (e.g. normalize, cast, one-hot). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  collate?: (batch: Batch<C>) => any;
}

interface Src {
  data: AnyTypedArray;
  dtype: DType;
  rowShape: number[];
  rowLen: number;
}

function toSrc(c: Column, what: string): Src {
  if (c instanceof Tensor) {
    if (c.isSymbolic) throw invalidArg(`${what}: a builder tensor has no data`);
    if (c.ndim === 0) throw invalidArg(`${what}: a scalar tensor has no rows`);
    const data = c.toTypedArray();
    return { data, dtype: c.dtype, rowShape: c.shape.slice(1), rowLen: c.shape.slice(1).reduce((a, b) => a * b, 1) };
  }
  if (ArrayBuffer.isView(c)) {
    const dtype = dtypeOfTypedArray(c);
    if (!dtype) throw invalidArg(`${what}: unsupported typed array ${Object.prototype.toString.call(c)}`);
    return { data: c as AnyTypedArray, dtype, rowShape: [], rowLen: 1 };
  }
  if (c && typeof c === 'object' && ArrayBuffer.isView((c as ArrayColumn).data) && Array.isArray((c as ArrayColumn).shape)) {
    const { data, shape } = c as ArrayColumn;
    const dtype = (c as ArrayColumn).dtype ?? dtypeOfTypedArray(data);
    if (!dtype) throw invalidArg(`${what}: unsupported typed array ${Object.prototype.toString.call(data)}`);
    if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 0))
      throw invalidArg(`${what}: shape must be a non-empty array of non-negative integers, got ${describe(shape)}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `${what}: ${data.length} values do not fill shape ${describe(shape)} (${n} elements)`);
    if (dtypeInfo(dtype).ctor !== (data.constructor as unknown))
      throw new HoduError(ErrorCode.DTYPE_MISMATCH, `${what}: dtype ${dtype} does not match a ${data.constructor.name}`);
    return { data, dtype, rowShape: shape.slice(1), rowLen: shape.slice(1).reduce((a, b) => a * b, 1) };
  }
  throw invalidArg(`${what}: expected a Tensor, a typed array or { data, shape }, got ${describe(c)}`);
}

function rowsOf(s: Src): number {
  return s.rowLen === 0 ? 0 : s.data.length / s.rowLen;
}

/**
 * Iterates over batches of rows of one or more columns that share their first dim.
 *
 * ```ts
 * const loader = new DataLoader({ x: images, y: labels }, { batchSize: 64, shuffle: true, seed: 1, dropLast: true });
 * for (const { x, y } of loader) { ... }   // one epoch; iterate again for the next (a new order when shuffling)
 * ```
 */
export class DataLoader<C extends Columns = Columns, B = Batch<C>> implements Iterable<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** Rows per column. */
  readonly length: number;
  /** Epochs started so far (each iteration starts one). */
  epoch = 0;
  private readonly keys: string[];
  private readonly srcs: Src[];
  private readonly isArray: boolean;
  private readonly collate?: (batch: Batch<C>) => B;

  constructor(columns: C, options: LoaderOptions<C> = {}) {
    if (columns === null || typeof columns !== 'object') throw invalidArg(`DataLoader: expected columns ({ x, y } or [x, y]), got ${describe(columns)}`);
    this.isArray = Array.isArray(columns);
    this.keys = Object.keys(columns);
    if (this.keys.length === 0) throw invalidArg('DataLoader: no columns');
    this.srcs = this.keys.map((k) => toSrc((columns as Record<string, Column>)[k], `DataLoader: column '${k}'`));
    const n = rowsOf(this.srcs[0]);
    this.srcs.forEach((s, i) => {
      if (rowsOf(s) !== n)
        throw new HoduError(ErrorCode.SHAPE_MISMATCH, `DataLoader: column '${this.keys[i]}' has ${rowsOf(s)} rows, column '${this.keys[0]}' has ${n}`);
    });
    this.length = n;
    const bs = options.batchSize ?? 32;
    if (!Number.isInteger(bs) || bs <= 0) throw invalidArg(`DataLoader: batchSize must be a positive integer, got ${describe(bs)}`);
    this.batchSize = bs;
    this.shuffle = !!options.shuffle;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw invalidArg(`DataLoader: seed must be an integer, got ${describe(seed)}`);
    this.seed = seed;
    this.dropLast = !!options.dropLast;
    if (options.collate !== undefined && typeof options.collate !== 'function')
      throw invalidArg(`DataLoader: collate must be a function, got ${describe(options.collate)}`);
    this.collate = options.collate;
  }

  /** Batches per epoch. */
  get batchCount(): number {
    return this.dropLast ? Math.floor(this.length / this.batchSize) : Math.ceil(this.length / this.batchSize);
  }

  /** The row order of epoch `e` (identity when not shuffling). */
  order(e: number): Int32Array {
    if (this.shuffle) return new DataRng(this.seed * 1000003 + e).permutation(this.length);
    const p = new Int32Array(this.length);
    for (let i = 0; i < p.length; i++) p[i] = i;
    return p;
  }

  /** The batch made of rows `idx` (in that order). */
  take(idx: ArrayLike<number>): B {
    const out: Record<string, Tensor> = {};
    this.srcs.forEach((s, c) => {
      const info = dtypeInfo(s.dtype);
      const dst = new info.ctor(idx.length * s.rowLen) as AnyTypedArray;
      const L = s.rowLen;
      for (let r = 0; r < idx.length; r++) {
        const i = idx[r];
        if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw invalidArg(`DataLoader: row index ${i} is out of range (0..${this.length - 1})`);
        if (L === 1) (dst as unknown as { [k: number]: number | bigint })[r] = (s.data as unknown as { [k: number]: number | bigint })[i];
        else (dst as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(s.data.subarray(i * L, i * L + L) as unknown as ArrayLike<unknown>, r * L);
      }
      out[this.keys[c]] = Tensor._make(new Storage(dst.buffer as ArrayBuffer), s.dtype, [idx.length, ...s.rowShape]);
    });
    const batch = (this.isArray ? this.keys.map((k) => out[k]) : out) as unknown as Batch<C>;
    return this.collate ? this.collate(batch) : (batch as unknown as B);
  }

  /** One epoch of batches; each call starts the next epoch. */
  *[Symbol.iterator](): Iterator<B> {
    const order = this.order(this.epoch++);
    const bs = this.batchSize;
    const end = this.dropLast ? this.length - (this.length % bs) : this.length;
    for (let at = 0; at < end; at += bs) yield this.take(order.subarray(at, Math.min(at + bs, end)));
  }
}

/** One epoch of batches over `columns`: `for (const [x, y] of batches([xs, ys], { batchSize: 64 }))`. */
export function batches<C extends Columns>(columns: C, options: LoaderOptions<C> = {}): IterableIterator<Batch<C>> {
  return new DataLoader<C, Batch<C>>(columns, options)[Symbol.iterator]() as IterableIterator<Batch<C>>;
}
