// Assertions and input generators for the op tests.
//
// - expectClose(tensor, expected, opts): shape first, then dtype, then values (NaN equals NaN,
//   ±Infinity must match exactly, booleans compare by truthiness against 0/1).
// - expectHoduError(fn, code, /message/): checks `.name === 'HoduError'` and `.code` (never
//   instanceof: jest runs tests in another realm than the addon).
// - layoutCases(shape, gen): the same logical input as a contiguous tensor and as strided views
//   (transposed, permuted, sliced with a step, narrowed, broadcast with stride 0), each paired
//   with its float64 reference built from the *contiguous base* values (never from a value the
//   code under test computed).
import { DType, Tensor } from '../../lib';
import { Nested, Ref, numel, shapeOfNested } from './reference';

export interface CloseOpts {
  rtol?: number;
  atol?: number;
  /** The expected dtype; checked after the shape. */
  dtype?: DType;
  /** Prefix for failure messages (e.g. the layout case). */
  label?: string;
}

const FLOATS = new Set<string>([DType.F16, DType.BF16, DType.F32, DType.F64]);

export function isFloatDtype(d: DType): boolean {
  return FLOATS.has(d);
}

/** Default tolerances per dtype: `basic` for + - * etc., `transcendental` for exp, log, tanh, ... */
export function tol(dtype: DType, kind: 'basic' | 'transcendental' = 'basic'): { rtol: number; atol: number } {
  switch (dtype) {
    case DType.F64:
      return kind === 'basic' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-10, atol: 1e-12 };
    case DType.F32:
      return kind === 'basic' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-4, atol: 1e-6 };
    case DType.F16:
    case DType.BF16:
      return { rtol: 1e-2, atol: 1e-2 };
    default:
      return { rtol: 0, atol: 0 };
  }
}

function flatten(v: unknown): unknown[] {
  if (!Array.isArray(v)) return [v];
  const out: unknown[] = [];
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else out.push(x);
  };
  walk(v);
  return out;
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function unflatIndex(i: number, shape: readonly number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return fmtShape(idx);
}

function valueMatches(actual: unknown, expected: number, rtol: number, atol: number): boolean {
  if (typeof actual === 'boolean') return actual === (expected !== 0);
  if (typeof actual !== 'number') return false;
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (Number.isNaN(actual)) return false;
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) return actual === expected;
  return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
}

/**
 * Checks a tensor against expected values: shape, then dtype (when given), then every value.
 * Tolerances default to `tol(tensor dtype)`.
 */
export function expectClose(t: Tensor, expected: Nested | Ref, opts: CloseOpts = {}): void {
  const label = opts.label ? `${opts.label}: ` : '';
  const exp = expected instanceof Ref ? expected : Ref.from(expected);
  const shape = Array.from(t.shape);
  if (fmtShape(shape) !== fmtShape(exp.shape))
    throw new Error(`${label}shape ${fmtShape(shape)} (dtype ${t.dtype}), expected shape ${fmtShape(exp.shape)}`);
  if (opts.dtype !== undefined && t.dtype !== opts.dtype)
    throw new Error(`${label}dtype ${t.dtype}, expected ${opts.dtype} (shape ${fmtShape(shape)})`);
  const d = tol(t.dtype);
  const rtol = opts.rtol ?? d.rtol;
  const atol = opts.atol ?? d.atol;
  const actual = flatten(t.toArray());
  const want = exp.flat();
  if (actual.length !== want.length)
    throw new Error(`${label}toArray gave ${actual.length} values for shape ${fmtShape(shape)}, expected ${want.length}`);
  const bad: string[] = [];
  let nbad = 0;
  for (let i = 0; i < want.length; i++) {
    if (!valueMatches(actual[i], want[i], rtol, atol)) {
      nbad++;
      if (bad.length < 6) bad.push(`  at ${unflatIndex(i, shape)}: got ${String(actual[i])}, expected ${want[i]}`);
    }
  }
  if (nbad > 0)
    throw new Error(
      `${label}${nbad} of ${want.length} values differ (shape ${fmtShape(shape)}, dtype ${t.dtype}, rtol ${rtol}, atol ${atol}):\n${bad.join('\n')}`,
    );
}

/** Exact comparison (integers, booleans, shape ops). */
export function expectExact(t: Tensor, expected: Nested | Ref, dtype?: DType, label?: string): void {
  expectClose(t, expected, { rtol: 0, atol: 0, dtype, label });
}

export function expectShape(t: Tensor, shape: number[], dtype?: DType): void {
  expect(Array.from(t.shape)).toEqual(shape);
  if (dtype !== undefined) expect(t.dtype).toBe(dtype);
}

/** Asserts that `fn` throws a HoduError with `code` whose message matches every regex given. */
export function expectHoduError(fn: () => unknown, code: string, ...message: RegExp[]): void {
  let err: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    err = e;
  }
  if (!threw) throw new Error(`expected a HoduError ${code}, but nothing was thrown`);
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const desc = `${String(e?.name)} ${String(e?.code)}: ${String(e?.message)}`;
  if (e?.name !== 'HoduError' || e?.code !== code) throw new Error(`expected a HoduError ${code}, got ${desc}`);
  for (const re of message)
    if (!re.test(String(e.message))) throw new Error(`HoduError ${code} message does not match ${re}: ${desc}`);
}

/** True for a typed array, across realms. */
export function typedArrayKind(x: unknown): string {
  return Object.prototype.toString.call(x);
}

// ---------------------------------------------------------------------- input generators

/** Makes a contiguous tensor of `shape` with random values. */
export type Gen = (shape: number[]) => Tensor;

export const randnGen = (dtype: DType = DType.F32, mean = 0, std = 1): Gen => (shape) => Tensor.randn(shape, dtype, mean, std);

export const randGen = (dtype: DType = DType.F32, low = 0, high = 1): Gen => (shape) => Tensor.rand(shape, dtype, low, high);

/** Random integers in [low, high) (drawn with Tensor.rand in f64 and floored), stored as `dtype`. */
export const intGen = (dtype: DType, low: number, high: number): Gen => (shape) => {
  const u = flatten(Tensor.rand(shape, DType.F64, low, high).toArray()) as number[];
  const v = u.map((x) => Math.min(Math.floor(x), high - 1));
  return Tensor.fromArray(v, shape, dtype);
};

/** Random booleans. */
export const boolGen = (): Gen => (shape) => {
  const u = flatten(Tensor.rand(shape, DType.F64).toArray()) as number[];
  return Tensor.fromArray(u.map((x) => x < 0.5), shape, DType.BOOL);
};

/** Values from a fixed list, cycled, stored as `dtype`. */
export const listGen = (dtype: DType, values: number[]): Gen => (shape) => {
  const n = numel(shape);
  return Tensor.fromArray(Array.from({ length: n }, (_, i) => values[i % values.length]), shape, dtype);
};

/** The reference of a contiguous tensor (its values read back). */
export function refOf(t: Tensor): Ref {
  const v = t.toArray() as Nested;
  return Ref.from(v);
}

export interface LayoutCase {
  name: string;
  t: Tensor;
  r: Ref;
}

export const ALL_LAYOUTS = [
  'contiguous',
  'transposed',
  'permuted',
  'sliced-step2',
  'sliced-step3-dim0',
  'narrowed',
  'broadcast-stride0',
  'broadcastTo-leading',
  'transposed+sliced',
] as const;
export type LayoutName = (typeof ALL_LAYOUTS)[number];

/** Whether a layout case exists for a target of the given rank. */
export function layoutApplies(name: LayoutName, rank: number): boolean {
  switch (name) {
    case 'contiguous':
      return true;
    case 'transposed':
    case 'broadcastTo-leading':
    case 'transposed+sliced':
      return rank >= 2;
    case 'permuted':
      return rank >= 3;
    default:
      return rank >= 1;
  }
}

/**
 * The tensor of logical shape `shape` in the given layout, plus its reference. The base tensor is
 * contiguous; its values are read back and the same view is taken in the reference.
 */
export function layoutCase(name: LayoutName, shape: number[], gen: Gen): LayoutCase {
  const S = shape.slice();
  const R = S.length;
  const mk = (baseShape: number[], view: (x: Tensor) => Tensor, rview: (r: Ref) => Ref): LayoutCase => {
    const base = gen(baseShape);
    const t = view(base);
    const r = rview(refOf(base));
    if (fmtShape(Array.from(t.shape)) !== fmtShape(S) || fmtShape(r.shape) !== fmtShape(S))
      throw new Error(`layoutCase ${name}: view has shape ${fmtShape(t.shape)} / ref ${fmtShape(r.shape)}, wanted ${fmtShape(S)}`);
    return { name, t, r };
  };
  switch (name) {
    case 'contiguous':
      return mk(S, (x) => x, (r) => r);
    case 'transposed': {
      const b = S.slice();
      [b[R - 2], b[R - 1]] = [b[R - 1], b[R - 2]];
      return mk(b, (x) => x.t(), (r) => r.t());
    }
    case 'permuted': {
      const b = S.slice().reverse();
      const perm = S.map((_, i) => R - 1 - i);
      return mk(b, (x) => x.permute(perm), (r) => r.permute(perm));
    }
    case 'sliced-step2': {
      const b = S.slice();
      b[R - 1] = 2 * S[R - 1] + 1;
      return mk(b, (x) => x.slice(-1, 1, b[R - 1], 2), (r) => r.slice(-1, 1, b[R - 1], 2));
    }
    case 'sliced-step3-dim0': {
      const b = S.slice();
      b[0] = 3 * S[0] + 1;
      return mk(b, (x) => x.slice(0, 1, undefined, 3), (r) => r.slice(0, 1, undefined, 3));
    }
    case 'narrowed': {
      const b = S.slice();
      b[R - 1] = S[R - 1] + 3;
      return mk(b, (x) => x.narrow(-1, 2, S[R - 1]), (r) => r.narrow(-1, 2, S[R - 1]));
    }
    case 'broadcast-stride0': {
      const b = S.slice();
      b[0] = 1;
      const target = S.map((d, i) => (i === 0 ? d : -1));
      return mk(b, (x) => x.expand(target), (r) => r.broadcastTo(S));
    }
    case 'broadcastTo-leading':
      return mk(S.slice(1), (x) => x.broadcastTo(S), (r) => r.broadcastTo(S));
    case 'transposed+sliced': {
      // base [..., 2n, m] -> slice dim -2 with step 2 -> [..., n, m] -> t() -> [..., m, n]
      const b = S.slice();
      b[R - 2] = 2 * S[R - 1];
      b[R - 1] = S[R - 2];
      return mk(b, (x) => x.slice(-2, 0, undefined, 2).t(), (r) => r.slice(-2, 0, undefined, 2).t());
    }
  }
}

/** Every applicable layout case for `shape`. */
export function layoutCases(shape: number[], gen: Gen, which: readonly LayoutName[] = ALL_LAYOUTS): LayoutCase[] {
  return which.filter((n) => layoutApplies(n, shape.length)).map((n) => layoutCase(n, shape, gen));
}

export { shapeOfNested };

/** The `.code` of what `f` throws (a HoduError's code), or undefined when it does not throw. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}
