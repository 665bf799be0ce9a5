// Elementwise ops (unary, binary, compare, logical, where) against the float64 reference, on
// contiguous and strided inputs (transposed, permuted, sliced with a step, narrowed, broadcast with
// stride 0), with numpy broadcasting between operands, for every dtype the spec allows.
import { Tensor, DType, manualSeed, where } from '../lib';
import * as R from './helpers/reference';
import {
  ALL_LAYOUTS,
  Gen,
  LayoutName,
  boolGen,
  expectClose,
  expectExact,
  expectHoduError,
  intGen,
  layoutApplies,
  layoutCase,
  listGen,
  randGen,
  randnGen,
  refOf,
  tol,
} from './helpers/assert';

beforeEach(() => manualSeed(20240611));

const SHAPE = [2, 3, 4];
const FLOAT_LAYOUTS = ALL_LAYOUTS.filter((l) => layoutApplies(l, SHAPE.length));
const FEW_LAYOUTS: LayoutName[] = ['contiguous', 'transposed+sliced', 'broadcast-stride0'];

/** Random values transformed in JS (so no op under test builds its own input). */
function fnGen(dtype: DType, f: (u: number) => number): Gen {
  return (shape) => {
    const u = R.Ref.from(Tensor.rand(shape, DType.F64).toArray() as R.Nested).flat();
    return Tensor.fromArray(u.map(f), shape, dtype);
  };
}

// ---------------------------------------------------------------------------------- unary

interface UnaryOp {
  name: string;
  run: (t: Tensor) => Tensor;
  ref: (x: number) => number;
  /** input generator for float dtypes */
  gen: (dt: DType) => Gen;
  kind: 'basic' | 'transcendental';
  /** also valid on signed integer dtypes */
  ints?: boolean;
}

const gauss = (s = 1) => (dt: DType) => randnGen(dt, 0, s);
const uniform = (lo: number, hi: number) => (dt: DType) => randGen(dt, lo, hi);
/** ±U(lo, hi): away from zero. */
const awayFromZero = (lo: number, hi: number) => (dt: DType) => fnGen(dt, (u) => (u < 0.5 ? -1 : 1) * (lo + (hi - lo) * ((u * 2) % 1)));

const UNARY: UnaryOp[] = [
  { name: 'neg', run: (t) => t.neg(), ref: R.fn.neg, gen: gauss(2), kind: 'basic', ints: true },
  { name: 'abs', run: (t) => t.abs(), ref: R.fn.abs, gen: gauss(2), kind: 'basic', ints: true },
  { name: 'sign', run: (t) => t.sign(), ref: R.fn.sign, gen: gauss(2), kind: 'basic', ints: true },
  { name: 'square', run: (t) => t.square(), ref: R.fn.square, gen: gauss(2), kind: 'basic', ints: true },
  { name: 'relu', run: (t) => t.relu(), ref: R.fn.relu, gen: gauss(2), kind: 'basic', ints: true },
  { name: 'sqrt', run: (t) => t.sqrt(), ref: R.fn.sqrt, gen: uniform(0.05, 9), kind: 'transcendental' },
  { name: 'recip', run: (t) => t.recip(), ref: R.fn.recip, gen: awayFromZero(0.2, 4), kind: 'basic' },
  { name: 'sigmoid', run: (t) => t.sigmoid(), ref: R.fn.sigmoid, gen: gauss(3), kind: 'transcendental' },
  { name: 'tanh', run: (t) => t.tanh(), ref: R.fn.tanh, gen: gauss(2), kind: 'transcendental' },
  { name: 'gelu', run: (t) => t.gelu(), ref: R.fn.gelu, gen: gauss(2), kind: 'transcendental' },
  { name: 'softplus', run: (t) => t.softplus(), ref: R.fn.softplus, gen: gauss(3), kind: 'transcendental' },
  { name: 'sin', run: (t) => t.sin(), ref: R.fn.sin, gen: gauss(3), kind: 'transcendental' },
  { name: 'cos', run: (t) => t.cos(), ref: R.fn.cos, gen: gauss(3), kind: 'transcendental' },
  { name: 'tan', run: (t) => t.tan(), ref: R.fn.tan, gen: uniform(-1.2, 1.2), kind: 'transcendental' },
  { name: 'exp', run: (t) => t.exp(), ref: R.fn.exp, gen: gauss(2), kind: 'transcendental' },
  { name: 'exp2', run: (t) => t.exp2(), ref: R.fn.exp2, gen: gauss(3), kind: 'transcendental' },
  { name: 'exp10', run: (t) => t.exp10(), ref: R.fn.exp10, gen: gauss(1), kind: 'transcendental' },
  { name: 'ln', run: (t) => t.ln(), ref: R.fn.ln, gen: uniform(0.05, 10), kind: 'transcendental' },
  { name: 'log2', run: (t) => t.log2(), ref: R.fn.log2, gen: uniform(0.05, 10), kind: 'transcendental' },
  { name: 'log10', run: (t) => t.log10(), ref: R.fn.log10, gen: uniform(0.05, 10), kind: 'transcendental' },
  { name: 'silu', run: (t) => t.silu(), ref: R.fn.silu, gen: gauss(3), kind: 'transcendental' },
  { name: 'leakyRelu()', run: (t) => t.leakyRelu(), ref: R.fn.leakyRelu(0.01), gen: gauss(2), kind: 'basic' },
  { name: 'leakyRelu(0.2)', run: (t) => t.leakyRelu(0.2), ref: R.fn.leakyRelu(0.2), gen: gauss(2), kind: 'basic' },
  { name: 'elu()', run: (t) => t.elu(), ref: R.fn.elu(1), gen: gauss(2), kind: 'transcendental' },
  { name: 'elu(0.5)', run: (t) => t.elu(0.5), ref: R.fn.elu(0.5), gen: gauss(2), kind: 'transcendental' },
  { name: 'clamp(-0.5, 0.8)', run: (t) => t.clamp(-0.5, 0.8), ref: R.fn.clamp(-0.5, 0.8), gen: gauss(1), kind: 'basic' },
  { name: 'clamp(-Infinity, 0.3)', run: (t) => t.clamp(-Infinity, 0.3), ref: R.fn.clamp(-Infinity, 0.3), gen: gauss(1), kind: 'basic' },
  { name: 'clamp(0, Infinity)', run: (t) => t.clamp(0, Infinity), ref: R.fn.clamp(0, Infinity), gen: gauss(1), kind: 'basic' },
];

const INT_UNARY: UnaryOp[] = [
  ...UNARY.filter((u) => u.ints),
  { name: 'clamp(-2, 3)', run: (t) => t.clamp(-2, 3), ref: R.fn.clamp(-2, 3), gen: gauss(), kind: 'basic' },
  { name: 'clamp(-Infinity, 3)', run: (t) => t.clamp(-Infinity, 3), ref: R.fn.clamp(-Infinity, 3), gen: gauss(), kind: 'basic' },
  { name: 'clamp(-1, Infinity)', run: (t) => t.clamp(-1, Infinity), ref: R.fn.clamp(-1, Infinity), gen: gauss(), kind: 'basic' },
];

function checkUnary(op: UnaryOp, dtype: DType, layout: LayoutName, gen: Gen): void {
  const c = layoutCase(layout, SHAPE, gen);
  const out = op.run(c.t);
  expectClose(out, c.r.map(op.ref), { ...tol(dtype, op.kind), dtype, label: `${op.name} ${dtype} ${layout}` });
}

describe('unary ops, f32, every layout', () => {
  const cases = UNARY.flatMap((op) => FLOAT_LAYOUTS.map((l) => [op.name, l, op] as const));
  test.each(cases)('%s on %s input', (_n, layout, op) => checkUnary(op, DType.F32, layout, op.gen(DType.F32)));
});

describe('unary ops, f64', () => {
  const cases = UNARY.flatMap((op) => FEW_LAYOUTS.map((l) => [op.name, l, op] as const));
  test.each(cases)('%s on %s input', (_n, layout, op) => checkUnary(op, DType.F64, layout, op.gen(DType.F64)));
});

describe('unary ops, integer dtypes', () => {
  const cases = INT_UNARY.flatMap((op) =>
    [DType.I32, DType.I64].flatMap((dt) =>
      (dt === DType.I32 ? FLOAT_LAYOUTS : (['contiguous', 'transposed'] as LayoutName[])).map((l) => [op.name, dt, l, op] as const),
    ),
  );
  test.each(cases)('%s %s on %s input', (_n, dt, layout, op) => checkUnary(op, dt, layout, intGen(dt, -6, 7)));

  test('relu, abs and clamp on u8', () => {
    const x = Tensor.fromArray([0, 1, 7, 200, 255], undefined, DType.U8);
    expectExact(x.relu(), [0, 1, 7, 200, 255], DType.U8);
    expectExact(x.abs(), [0, 1, 7, 200, 255], DType.U8);
    expectExact(x.clamp(2, 100), [2, 2, 7, 100, 100], DType.U8);
  });
});

describe('unary ops, f16 / bf16 (loose tolerance)', () => {
  const ops = UNARY.filter((u) => ['relu', 'neg', 'abs', 'exp', 'sigmoid', 'tanh'].includes(u.name));
  const cases = ops.flatMap((op) =>
    [DType.F16, DType.BF16].flatMap((dt) => (['contiguous', 'transposed', 'broadcast-stride0'] as LayoutName[]).map((l) => [op.name, dt, l, op] as const)),
  );
  test.each(cases)('%s %s on %s input', (_n, dt, layout, op) => checkUnary(op, dt, layout, op.gen(dt)));
});

describe('unary ops: upstream conformance values (f32)', () => {
  const x = () => Tensor.fromArray([-2, -1, 0, 1, 2]);
  const y = () => Tensor.fromArray([-1, 0.5, 2]);
  const c = { atol: 2e-6, rtol: 1e-6, dtype: DType.F32 };
  test('relu', () => expectClose(x().relu(), [0, 0, 0, 1, 2], c));
  test('sigmoid (0.5 at 0, where upstream gave NaN)', () =>
    expectClose(x().sigmoid(), [0.1192029, 0.2689414, 0.5, 0.7310586, 0.880797], c));
  test('softplus (ln 2 at 0, where upstream gave NaN)', () =>
    expectClose(x().softplus(), [0.126928, 0.3132616, 0.6931472, 1.3132617, 2.126928], c));
  test('gelu, tanh form', () => expectClose(x().gelu(), [-0.0454023, -0.158808, 0, 0.841192, 1.9545977], c));
  test('elu(1)', () => expectClose(y().elu(1), [-0.6321206, 0.5, 2], c));
  test('leakyRelu(0.1)', () => expectClose(y().leakyRelu(0.1), [-0.1, 0.5, 2], c));
  test('exp2', () => expectClose(y().exp2(), [0.5, 1.4142135, 4], c));
  test('exp10', () => expectClose(y().exp10(), [0.1, 3.1622777, 100], { ...c, rtol: 1e-6, atol: 1e-5 }));
});

describe('unary ops: edge values', () => {
  const both = [DType.F32, DType.F64];
  test.each(both)('sqrt, ln, log2, log10, recip at 0, negatives and infinity (%s)', (dt) => {
    const x = Tensor.fromArray([-1, 0, 4, Infinity], undefined, dt);
    expectClose(x.sqrt(), [NaN, 0, 2, Infinity], { dtype: dt });
    expectClose(x.ln(), [NaN, -Infinity, Math.log(4), Infinity], { dtype: dt, ...tol(dt, 'transcendental') });
    expectClose(x.log2(), [NaN, -Infinity, 2, Infinity], { dtype: dt, ...tol(dt, 'transcendental') });
    expectClose(x.log10(), [NaN, -Infinity, Math.log10(4), Infinity], { dtype: dt, ...tol(dt, 'transcendental') });
    expectClose(Tensor.fromArray([0, 2, -4, Infinity], undefined, dt).recip(), [Infinity, 0.5, -0.25, 0], { dtype: dt });
  });

  test.each(both)('exp family at ±Infinity and NaN (%s)', (dt) => {
    const x = Tensor.fromArray([-Infinity, 0, Infinity, NaN], undefined, dt);
    expectClose(x.exp(), [0, 1, Infinity, NaN], { dtype: dt });
    expectClose(x.exp2(), [0, 1, Infinity, NaN], { dtype: dt });
    expectClose(x.exp10(), [0, 1, Infinity, NaN], { dtype: dt });
    expectClose(x.sin(), [NaN, 0, NaN, NaN], { dtype: dt });
    expectClose(x.tanh(), [-1, 0, 1, NaN], { dtype: dt });
  });

  test.each(both)('saturating functions stay finite at large magnitudes (%s)', (dt) => {
    const x = Tensor.fromArray([-100, -30, 30, 100], undefined, dt);
    const c = { dtype: dt, rtol: 1e-5, atol: 1e-6 };
    expectClose(x.sigmoid(), [R.fn.sigmoid(-100), R.fn.sigmoid(-30), R.fn.sigmoid(30), 1], c);
    expectClose(x.softplus(), [R.fn.softplus(-100), R.fn.softplus(-30), R.fn.softplus(30), 100], c);
    expectClose(x.tanh(), [-1, -1, 1, 1], c);
    expectClose(x.gelu(), [0, 0, 30, 100], c);
    expectClose(x.silu(), [0, R.fn.silu(-30), R.fn.silu(30), 100], c);
    expectClose(x.elu(), [-1, R.fn.elu(1)(-30), 30, 100], c);
  });

  test.each(both)('sign, abs, neg, relu, square on hand-picked values (%s)', (dt) => {
    const v = [-3, -0.5, 0, 0.5, 3, -Infinity, Infinity];
    const x = Tensor.fromArray(v, undefined, dt);
    expectExact(x.sign(), [-1, -1, 0, 1, 1, -1, 1], dt);
    expectExact(x.abs(), [3, 0.5, 0, 0.5, 3, Infinity, Infinity], dt);
    expectExact(x.neg(), [3, 0.5, -0, -0.5, -3, Infinity, -Infinity], dt);
    expectExact(x.relu(), [0, 0, 0, 0.5, 3, 0, Infinity], dt);
    expectExact(x.square(), [9, 0.25, 0, 0.25, 9, Infinity, Infinity], dt);
  });

  test.each(both)('clamp accepts ±Infinity bounds and infinite inputs (%s)', (dt) => {
    const x = Tensor.fromArray([-Infinity, -2, 0, 2, Infinity], undefined, dt);
    expectExact(x.clamp(-1, 1), [-1, -1, 0, 1, 1], dt);
    expectExact(x.clamp(-Infinity, Infinity), [-Infinity, -2, 0, 2, Infinity], dt);
    expectExact(x.clamp(), [-Infinity, -2, 0, 2, Infinity], dt);
    expectExact(x.clamp(0), [0, 0, 0, 2, Infinity], dt);
    expectExact(x.clamp(-Infinity, 1), [-Infinity, -2, 0, 1, 1], dt);
    expectExact(x.clamp(1, 1), [1, 1, 1, 1, 1], dt);
  });

  test.each(both)('clamp and NaN-propagating unary ops keep NaN (PyTorch) (%s)', (dt) => {
    const x = Tensor.fromArray([NaN, 1], undefined, dt);
    expectClose(x.clamp(-1, 0.5), [NaN, 0.5], { dtype: dt });
    expectClose(x.abs(), [NaN, 1], { dtype: dt });
    expectClose(x.neg(), [NaN, -1], { dtype: dt });
    expectClose(x.sqrt(), [NaN, 1], { dtype: dt });
    expectClose(x.sigmoid(), [NaN, R.fn.sigmoid(1)], { dtype: dt, ...tol(dt, 'transcendental') });
  });

  test('unary ops on shape [] and on empty tensors', () => {
    const s = Tensor.full([], -2);
    expectClose(s.abs(), 2, { dtype: DType.F32 });
    expectClose(s.exp(), Math.exp(-2), { dtype: DType.F32, ...tol(DType.F32, 'transcendental') });
    const e = Tensor.zeros([0, 3]);
    expectExact(e.relu(), new R.Ref([], [0, 3]), DType.F32);
    expect(Array.from(e.exp().shape)).toEqual([0, 3]);
  });

  test('unary ops do not modify their input (also for a view)', () => {
    const base = Tensor.fromArray([[-1, 2], [3, -4]]);
    const v = base.t();
    v.relu();
    v.neg();
    base.abs();
    expect(base.toArray()).toEqual([[-1, 2], [3, -4]]);
  });
});

// ---------------------------------------------------------------------------------- binary

interface BinaryOp {
  name: string;
  run: (a: Tensor, b: Tensor | number) => Tensor;
  ref: (x: number, y: number) => number;
  genA: (dt: DType) => Gen;
  genB: (dt: DType) => Gen;
  kind: 'basic' | 'transcendental';
}

const BINARY: BinaryOp[] = [
  { name: 'add', run: (a, b) => a.add(b), ref: R.fn.add, genA: gauss(2), genB: gauss(2), kind: 'basic' },
  { name: 'sub', run: (a, b) => a.sub(b), ref: R.fn.sub, genA: gauss(2), genB: gauss(2), kind: 'basic' },
  { name: 'mul', run: (a, b) => a.mul(b), ref: R.fn.mul, genA: gauss(2), genB: gauss(2), kind: 'basic' },
  { name: 'div', run: (a, b) => a.div(b), ref: R.fn.div, genA: gauss(2), genB: awayFromZero(0.25, 4), kind: 'basic' },
  { name: 'pow', run: (a, b) => a.pow(b), ref: R.fn.pow, genA: uniform(0.25, 3), genB: gauss(1.5), kind: 'transcendental' },
  { name: 'maximum', run: (a, b) => a.maximum(b), ref: R.fn.maximum, genA: gauss(2), genB: gauss(2), kind: 'basic' },
  { name: 'minimum', run: (a, b) => a.minimum(b), ref: R.fn.minimum, genA: gauss(2), genB: gauss(2), kind: 'basic' },
];

interface PairCase {
  name: string;
  make: (ga: Gen, gb: Gen) => { a: Tensor; ra: R.Ref; b: Tensor | number; rb: R.Ref | number };
}

/** Operand pairs: layouts of both sides and numpy broadcasting between shapes. */
const PAIRS: PairCase[] = [
  {
    name: 'contiguous [2,3,4] with contiguous [2,3,4]',
    make: (ga, gb) => {
      const a = layoutCase('contiguous', SHAPE, ga);
      const b = layoutCase('contiguous', SHAPE, gb);
      return { a: a.t, ra: a.r, b: b.t, rb: b.r };
    },
  },
  {
    name: 'transposed with sliced (step 2)',
    make: (ga, gb) => {
      const a = layoutCase('transposed', SHAPE, ga);
      const b = layoutCase('sliced-step2', SHAPE, gb);
      return { a: a.t, ra: a.r, b: b.t, rb: b.r };
    },
  },
  {
    name: 'permuted with broadcast (stride 0)',
    make: (ga, gb) => {
      const a = layoutCase('permuted', SHAPE, ga);
      const b = layoutCase('broadcast-stride0', SHAPE, gb);
      return { a: a.t, ra: a.r, b: b.t, rb: b.r };
    },
  },
  {
    name: 'narrowed with transposed+sliced',
    make: (ga, gb) => {
      const a = layoutCase('narrowed', SHAPE, ga);
      const b = layoutCase('transposed+sliced', SHAPE, gb);
      return { a: a.t, ra: a.r, b: b.t, rb: b.r };
    },
  },
  {
    name: 'sliced dim 0 (step 3) with broadcastTo (new leading dim)',
    make: (ga, gb) => {
      const a = layoutCase('sliced-step3-dim0', SHAPE, ga);
      const b = layoutCase('broadcastTo-leading', SHAPE, gb);
      return { a: a.t, ra: a.r, b: b.t, rb: b.r };
    },
  },
  {
    name: 'numpy broadcasting [3,1] with [4]',
    make: (ga, gb) => {
      const a = ga([3, 1]);
      const b = gb([4]);
      return { a, ra: refOf(a), b, rb: refOf(b) };
    },
  },
  {
    name: 'numpy broadcasting [4] with [3,1]',
    make: (ga, gb) => {
      const a = ga([4]);
      const b = gb([3, 1]);
      return { a, ra: refOf(a), b, rb: refOf(b) };
    },
  },
  {
    name: 'numpy broadcasting [2,1,4] with transposed [3,1]',
    make: (ga, gb) => {
      const a = ga([2, 1, 4]);
      const bb = gb([1, 3]);
      return { a, ra: refOf(a), b: bb.t(), rb: refOf(bb).t() };
    },
  },
  {
    name: 'a shape [] tensor as the right operand',
    make: (ga, gb) => {
      const a = layoutCase('transposed', SHAPE, ga);
      const b = gb([]);
      return { a: a.t, ra: a.r, b, rb: refOf(b) };
    },
  },
  {
    name: 'a shape [] tensor as the left operand',
    make: (ga, gb) => {
      const a = ga([]);
      const b = layoutCase('sliced-step2', SHAPE, gb);
      return { a, ra: refOf(a), b: b.t, rb: b.r };
    },
  },
  {
    name: 'a JS number as the right operand',
    make: (ga, gb) => {
      const a = layoutCase('transposed+sliced', SHAPE, ga);
      const rb = refOf(gb([])).at([]);
      return { a: a.t, ra: a.r, b: rb, rb };
    },
  },
];

function checkBinary(op: BinaryOp, dtype: DType, pair: PairCase, ga: Gen, gb: Gen, kind = op.kind): void {
  const { a, ra, b, rb } = pair.make(ga, gb);
  const out = op.run(a, b);
  const expected = R.map2(ra, typeof rb === 'number' ? rb : rb, op.ref);
  expectClose(out, expected, { ...tol(dtype, kind), dtype, label: `${op.name} ${dtype} ${pair.name}` });
}

describe('binary ops, f32', () => {
  const cases = BINARY.flatMap((op) => PAIRS.map((p) => [op.name, p.name, op, p] as const));
  test.each(cases)('%s: %s', (_n, _p, op, p) => checkBinary(op, DType.F32, p, op.genA(DType.F32), op.genB(DType.F32)));
});

describe('binary ops, f64', () => {
  const pairs = PAIRS.filter((_, i) => [0, 1, 2, 5, 10].includes(i));
  const cases = BINARY.flatMap((op) => pairs.map((p) => [op.name, p.name, op, p] as const));
  test.each(cases)('%s: %s', (_n, _p, op, p) => checkBinary(op, DType.F64, p, op.genA(DType.F64), op.genB(DType.F64)));
});

describe('binary ops, integer dtypes', () => {
  const intOps = BINARY.filter((o) => ['add', 'sub', 'mul', 'maximum', 'minimum'].includes(o.name));
  const pairs = PAIRS.filter((_, i) => [0, 1, 2, 5, 8, 10].includes(i));
  const cases = intOps.flatMap((op) =>
    [DType.I32, DType.I64].flatMap((dt) => pairs.map((p) => [op.name, dt, p.name, op, p] as const)),
  );
  test.each(cases)('%s %s: %s', (_n, dt, _p, op, p) => checkBinary(op, dt, p, intGen(dt, -50, 50), intGen(dt, -50, 50)));

  const u8Ops = BINARY.filter((o) => ['add', 'mul', 'maximum', 'minimum'].includes(o.name));
  const u8Cases = u8Ops.flatMap((op) => pairs.map((p) => [op.name, p.name, op, p] as const));
  test.each(u8Cases)('%s u8: %s', (_n, _p, op, p) => checkBinary(op, DType.U8, p, intGen(DType.U8, 0, 16), intGen(DType.U8, 0, 16)));

  test('u8 sub without wrap-around', () => {
    const a = Tensor.fromArray([10, 200, 255], undefined, DType.U8);
    const b = Tensor.fromArray([3, 100, 255], undefined, DType.U8);
    expectExact(a.sub(b), [7, 100, 0], DType.U8);
  });

  test('i64 add of values beyond the i32 range', () => {
    const a = Tensor.fromArray([3_000_000_000, -3_000_000_000, 2 ** 40], undefined, DType.I64);
    const b = Tensor.fromArray([1, -1, 2 ** 40], undefined, DType.I64);
    expectExact(a.add(b), [3_000_000_001, -3_000_000_001, 2 ** 41], DType.I64);
    expectExact(a.mul(2), [6_000_000_000, -6_000_000_000, 2 ** 41], DType.I64);
  });
});

describe('binary ops, f16 / bf16 (loose tolerance)', () => {
  const ops = BINARY.filter((o) => ['add', 'mul', 'sub', 'maximum'].includes(o.name));
  const pairs = PAIRS.filter((_, i) => [0, 1, 2, 5, 10].includes(i));
  const cases = ops.flatMap((op) => [DType.F16, DType.BF16].flatMap((dt) => pairs.map((p) => [op.name, dt, p.name, op, p] as const)));
  test.each(cases)('%s %s: %s', (_n, dt, _p, op, p) => checkBinary(op, dt, p, op.genA(dt), op.genB(dt)));
});

describe('binary ops: edge values', () => {
  test.each([DType.F32, DType.F64])('division by zero and by infinity (%s)', (dt) => {
    const a = Tensor.fromArray([1, -1, 0, 2, Infinity], undefined, dt);
    const b = Tensor.fromArray([0, 0, 0, Infinity, Infinity], undefined, dt);
    expectClose(a.div(b), [Infinity, -Infinity, NaN, 0, NaN], { dtype: dt });
  });

  test.each([DType.F32, DType.F64])('pow with integer exponents on negative bases and 0^0 (%s)', (dt) => {
    const a = Tensor.fromArray([-2, -2, 0, 2, 4, -3], undefined, dt);
    const b = Tensor.fromArray([3, 2, 0, -1, 0.5, 0], undefined, dt);
    expectClose(a.pow(b), [-8, 4, 1, 0.5, 2, 1], { dtype: dt, ...tol(dt, 'transcendental') });
    expectClose(a.pow(2), [4, 4, 0, 4, 16, 9], { dtype: dt, ...tol(dt, 'transcendental') });
    expectClose(Tensor.fromArray([-8], undefined, dt).pow(0.5), [NaN], { dtype: dt });
  });

  test.each([DType.F32, DType.F64])('add/sub with infinities (%s)', (dt) => {
    const a = Tensor.fromArray([Infinity, Infinity, -Infinity, NaN], undefined, dt);
    const b = Tensor.fromArray([1, -Infinity, -Infinity, 1], undefined, dt);
    expectClose(a.add(b), [Infinity, NaN, -Infinity, NaN], { dtype: dt });
    expectClose(a.sub(b), [Infinity, Infinity, NaN, NaN], { dtype: dt });
  });

  test('maximum / minimum with infinities', () => {
    const a = Tensor.fromArray([-Infinity, 3, Infinity]);
    const b = Tensor.fromArray([1, Infinity, -Infinity]);
    expectExact(a.maximum(b), [1, Infinity, Infinity], DType.F32);
    expectExact(a.minimum(b), [-Infinity, 3, -Infinity], DType.F32);
  });

  test('maximum / minimum propagate NaN from either side (PyTorch)', () => {
    const a = Tensor.fromArray([NaN, 1, NaN]);
    const b = Tensor.fromArray([1, NaN, NaN]);
    expectClose(a.maximum(b), [NaN, NaN, NaN], { dtype: DType.F32 });
    expectClose(a.minimum(b), [NaN, NaN, NaN], { dtype: DType.F32 });
  });

  test('binary ops do not modify their operands', () => {
    const a = Tensor.fromArray([[1, 2], [3, 4]]);
    const b = Tensor.fromArray([10, 20]);
    a.add(b);
    a.t().mul(b);
    a.sub(1);
    expect(a.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(b.toArray()).toEqual([10, 20]);
  });

  test('broadcasting produces a contiguous result with independent memory', () => {
    const a = Tensor.fromArray([[1], [2], [3]]);
    const b = Tensor.fromArray([10, 20, 30, 40]);
    const out = a.add(b);
    expect(Array.from(out.shape)).toEqual([3, 4]);
    expect(out.isContiguous).toBe(true);
    const arr = out.toTypedArray();
    arr[0] = -1;
    expect(out.toArray()).toEqual([[-1, 21, 31, 41], [12, 22, 32, 42], [13, 23, 33, 43]]);
    expect(a.toArray()).toEqual([[1], [2], [3]]);
  });

  test('zero-size broadcasting gives an empty result', () => {
    const out = Tensor.zeros([0, 1]).add(Tensor.ones([4]));
    expect(Array.from(out.shape)).toEqual([0, 4]);
  });
});

describe('operand dtypes', () => {
  test('a JS number adapts to the tensor dtype (f64 keeps full precision)', () => {
    const x = Tensor.fromArray([1, 2], undefined, DType.F64);
    expectClose(x.add(0.1), [1 + 0.1, 2 + 0.1], { dtype: DType.F64, rtol: 0, atol: 0 });
    expectClose(x.mul(1 / 3), [1 / 3, 2 / 3], { dtype: DType.F64, rtol: 1e-15, atol: 0 });
  });

  test('a JS number adapts to the tensor dtype (f32)', () => {
    const x = Tensor.fromArray([1, 2]);
    expectClose(x.add(0.1), [Math.fround(1 + Math.fround(0.1)), Math.fround(2 + Math.fround(0.1))], { dtype: DType.F32, rtol: 1e-7, atol: 0 });
  });

  test.each([DType.I32, DType.I64, DType.U8])('a JS number adapts to an integer dtype (%s)', (dt) => {
    const x = Tensor.fromArray([1, 2, 3], undefined, dt);
    expectExact(x.add(2), [3, 4, 5], dt);
    expectExact(x.mul(3), [3, 6, 9], dt);
    expectExact(x.maximum(2), [2, 2, 3], dt);
    expectExact(x.gt(1), [false, true, true], DType.BOOL);
  });

  test.each([DType.F16, DType.BF16])('a JS number adapts to %s', (dt) => {
    const x = Tensor.fromArray([1, 2, -3], undefined, dt);
    expectClose(x.add(0.5), [1.5, 2.5, -2.5], { dtype: dt, rtol: 0, atol: 0 });
    expectClose(x.mul(2), [2, 4, -6], { dtype: dt, rtol: 0, atol: 0 });
  });

  test('BOOL mixed with f32 is cast to f32 (either side)', () => {
    const f = Tensor.fromArray([1.5, -2, 3]);
    const b = Tensor.fromArray([true, false, true]);
    expectExact(f.add(b), [2.5, -2, 4], DType.F32);
    expectExact(b.add(f), [2.5, -2, 4], DType.F32);
    expectExact(f.mul(b), [1.5, -0, 3], DType.F32);
    expectExact(b.mul(f), [1.5, -0, 3], DType.F32);
    expectExact(f.eq(b), [false, false, false], DType.BOOL);
    expectExact(Tensor.fromArray([1, 0, 2]).eq(b), [true, true, false], DType.BOOL);
  });

  test('BOOL mixed with i32 / i64 is cast to the integer dtype', () => {
    const b = Tensor.fromArray([true, false, true]);
    for (const dt of [DType.I32, DType.I64]) {
      const i = Tensor.fromArray([5, 6, 7], undefined, dt);
      expectExact(i.sub(b), [4, 6, 6], dt);
      expectExact(b.sub(i), [-4, -6, -6], dt);
    }
  });

  test('BOOL mixed with another dtype broadcasts', () => {
    const b = Tensor.fromArray([[true], [false]]);
    const f = Tensor.fromArray([1, 2, 3], undefined, DType.F64);
    expectExact(b.add(f), [[2, 3, 4], [1, 2, 3]], DType.F64);
  });

  test.each([
    [DType.F32, DType.F64],
    [DType.F64, DType.F32],
    [DType.I32, DType.F32],
    [DType.I32, DType.I64],
    [DType.U8, DType.I32],
    [DType.F16, DType.F32],
    [DType.BF16, DType.F16],
  ])('mixed %s and %s → DTYPE_MISMATCH naming both dtypes', (da, db) => {
    const a = Tensor.ones([2], da);
    const b = Tensor.ones([2], db);
    for (const f of [() => a.add(b), () => a.mul(b), () => a.maximum(b), () => a.eq(b), () => a.lt(b)])
      expectHoduError(f, 'DTYPE_MISMATCH', new RegExp(da), new RegExp(db));
  });
});

// ---------------------------------------------------------------------------------- compare

const CMP = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
type CmpName = (typeof CMP)[number];
const cmpRun = (n: CmpName) => (a: Tensor, b: Tensor | number): Tensor => a[n](b);

describe('comparison ops → BOOL', () => {
  const pairs = PAIRS.filter((_, i) => [0, 1, 2, 3, 5, 8, 10].includes(i));
  const dts = [DType.F32, DType.F64, DType.I32, DType.I64, DType.U8];
  const cases = CMP.flatMap((n) => dts.flatMap((dt) => pairs.map((p) => [n, dt, p.name, p] as const)));
  test.each(cases)('%s %s: %s', (n, dt, _p, p) => {
    // small integers so that ties occur often
    const g = dt === DType.U8 ? intGen(dt, 0, 4) : intGen(dt, -2, 3);
    const { a, ra, b, rb } = p.make(g, g);
    const out = cmpRun(n)(a, b);
    expectExact(out, R.map2(ra, rb, R.fn[n]), DType.BOOL, `${n} ${dt} ${p.name}`);
  });

  test.each(CMP)('%s on bool tensors', (n) => {
    const a = Tensor.fromArray([true, true, false, false]);
    const b = Tensor.fromArray([true, false, true, false]);
    expectExact(a[n](b), R.map2([1, 1, 0, 0], [1, 0, 1, 0], R.fn[n]), DType.BOOL);
  });

  test.each(CMP)('%s with NaN and infinities (f32)', (n) => {
    const av = [NaN, NaN, 1, -Infinity, Infinity, Infinity];
    const bv = [NaN, 1, NaN, -Infinity, Infinity, 1e30];
    const out = Tensor.fromArray(av)[n](Tensor.fromArray(bv));
    expectExact(out, R.map2(av, bv, R.fn[n]), DType.BOOL);
  });

  test.each([DType.F16, DType.BF16])('compare on %s', (dt) => {
    const a = Tensor.fromArray([1, 2, 3, -1], undefined, dt);
    const b = Tensor.fromArray([1, 3, 2, -1], undefined, dt);
    expectExact(a.eq(b), [true, false, false, true], DType.BOOL);
    expectExact(a.lt(b), [false, true, false, false], DType.BOOL);
    expectExact(a.ge(2), [false, true, true, false], DType.BOOL);
  });

  test('compare with a fractional JS number on f32 and f64', () => {
    expectExact(Tensor.fromArray([0.5, 1, 1.5]).gt(0.75), [false, true, true], DType.BOOL);
    expectExact(Tensor.fromArray([0.1], undefined, DType.F64).eq(0.1), [true], DType.BOOL);
    expectExact(Tensor.fromArray([0.1]).eq(0.1), [true], DType.BOOL);
  });
});

// ---------------------------------------------------------------------------------- logical

const LOGIC = ['logicalAnd', 'logicalOr', 'logicalXor'] as const;

describe('logical ops → BOOL', () => {
  const pairs = PAIRS.filter((_, i) => [0, 1, 2, 5, 8].includes(i));
  const cases = LOGIC.flatMap((n) => pairs.map((p) => [n, p.name, p] as const));
  test.each(cases)('%s on bool: %s', (n, _p, p) => {
    const { a, ra, b, rb } = p.make(boolGen(), boolGen());
    expectExact(a[n](b as Tensor), R.map2(ra, rb, R.fn[n]), DType.BOOL, `${n} ${p.name}`);
  });

  test.each(LOGIC.flatMap((n) => [DType.F32, DType.I32, DType.F64].map((dt) => [n, dt] as const)))(
    '%s on %s: nonzero counts as true',
    (n, dt) => {
      const av = [0, 0, 2, -1, 0.5, 3];
      const bv = [0, -3, 0, 4, 0.25, 0];
      const a = Tensor.fromArray(av, undefined, dt);
      const b = Tensor.fromArray(bv, undefined, dt);
      const ra = R.Ref.from(a.toArray() as R.Nested);
      const rb = R.Ref.from(b.toArray() as R.Nested);
      expectExact(a[n](b), R.map2(ra, rb, R.fn[n]), DType.BOOL);
      // strided operand
      expectExact(a.reshape([2, 3]).t()[n](b.reshape([2, 3]).t()), R.map2(ra.reshape([2, 3]).t(), rb.reshape([2, 3]).t(), R.fn[n]), DType.BOOL);
    },
  );

  test('NaN counts as true in logical ops', () => {
    const a = Tensor.fromArray([NaN, NaN, 0]);
    const b = Tensor.fromArray([1, 0, NaN]);
    expectExact(a.logicalAnd(b), [true, false, false], DType.BOOL);
    expectExact(a.logicalOr(b), [true, true, true], DType.BOOL);
    expectExact(a.logicalNot(), [false, false, true], DType.BOOL);
  });

  test.each([DType.BOOL, DType.F32, DType.I32, DType.U8, DType.F64])('logicalNot on %s', (dt) => {
    const x = Tensor.fromArray([0, 1, 2, 0, 1, 0], [2, 3], dt);
    expectExact(x.logicalNot(), [[true, false, false], [true, false, true]], DType.BOOL);
    expectExact(x.t().logicalNot(), [[true, true], [false, false], [false, true]], DType.BOOL);
    expectExact(x.slice(1, 0, 3, 2).logicalNot(), [[true, false], [true, true]], DType.BOOL);
  });

  test('logical op with a JS number operand', () => {
    const b = Tensor.fromArray([true, false]);
    expectExact(b.logicalAnd(1), [true, false], DType.BOOL);
    expectExact(b.logicalOr(0), [true, false], DType.BOOL);
    expectExact(b.logicalXor(1), [false, true], DType.BOOL);
  });

  test('logical ops between BOOL and f32 (BOOL cast to f32)', () => {
    const b = Tensor.fromArray([true, false, true]);
    const f = Tensor.fromArray([0, 2, 0.5]);
    expectExact(b.logicalAnd(f), [false, false, true], DType.BOOL);
    expectExact(f.logicalXor(b), [true, true, false], DType.BOOL);
  });
});

// ---------------------------------------------------------------------------------- where

describe('where', () => {
  test.each(FLOAT_LAYOUTS)('f32 operands, every operand in %s layout', (layout) => {
    const c = layoutCase(layout, SHAPE, boolGen());
    const a = layoutCase(layout, SHAPE, randnGen());
    const b = layoutCase('contiguous', SHAPE, randnGen());
    expectExact(Tensor.where(c.t, a.t, b.t), R.where(c.r, a.r, b.r), DType.F32, layout);
    expectExact(where(c.t, b.t, a.t), R.where(c.r, b.r, a.r), DType.F32, layout);
  });

  test.each([DType.F64, DType.I32, DType.I64, DType.U8, DType.BOOL, DType.F16, DType.BF16])('dtype %s is kept', (dt) => {
    const c = Tensor.fromArray([true, false, true, false]);
    const a = Tensor.fromArray([1, 1, 0, 2], undefined, dt);
    const b = Tensor.fromArray([0, 3, 1, 1], undefined, dt);
    expectExact(where(c, a, b), R.where([1, 0, 1, 0], refOf(a), refOf(b)), dt);
  });

  test('broadcasts all three: cond [3,1], a [4], b []', () => {
    const c = Tensor.fromArray([[true], [false], [true]]);
    const a = Tensor.fromArray([1, 2, 3, 4]);
    const b = Tensor.full([], -1);
    expectExact(where(c, a, b), [[1, 2, 3, 4], [-1, -1, -1, -1], [1, 2, 3, 4]], DType.F32);
    const c2 = Tensor.fromArray([true, false, true, false]);
    const a2 = Tensor.fromArray([[10], [20]]);
    expectExact(where(c2, a2, 0), [[10, 0, 10, 0], [20, 0, 20, 0]], DType.F32);
  });

  test('number operands adapt to the tensor operand dtype', () => {
    const c = Tensor.fromArray([true, false, true]);
    const a = Tensor.fromArray([7, 8, 9], undefined, DType.I32);
    expectExact(where(c, a, -1), [7, -1, 9], DType.I32);
    expectExact(where(c, -1, a), [-1, 8, -1], DType.I32);
    const f = Tensor.fromArray([0.5, 0.25, 0.125], undefined, DType.F64);
    expectClose(where(c, f, 0.1), [0.5, 0.1, 0.125], { dtype: DType.F64, rtol: 0, atol: 0 });
  });

  test('two number operands give f32', () => {
    const c = Tensor.fromArray([[true, false], [false, true]]);
    expectExact(Tensor.where(c, 1, 0), [[1, 0], [0, 1]], DType.F32);
    expectExact(where(c.t(), 2.5, -1), [[2.5, -1], [-1, 2.5]], DType.F32);
  });

  test('a non-bool condition counts nonzero as true', () => {
    const c = Tensor.fromArray([0, 2, -1, 0.5, 0]);
    const a = Tensor.fromArray([1, 2, 3, 4, 5]);
    expectExact(where(c, a, 0), [0, 2, 3, 4, 0], DType.F32);
    expectExact(where(Tensor.fromArray([0, 3], undefined, DType.I32), 1, 2), [2, 1], DType.F32);
  });

  test('NaN and infinities pass through unchanged', () => {
    const c = Tensor.fromArray([true, true, false]);
    const a = Tensor.fromArray([NaN, -Infinity, 0]);
    const b = Tensor.fromArray([0, 0, Infinity]);
    expectClose(where(c, a, b), [NaN, -Infinity, Infinity], { dtype: DType.F32 });
  });

  test('a BOOL value operand is cast to the other operand dtype', () => {
    const c = Tensor.fromArray([true, false, true]);
    const a = Tensor.fromArray([true, true, false]);
    const b = Tensor.fromArray([5, 6, 7], undefined, DType.F64);
    expectExact(where(c, a, b), [1, 6, 0], DType.F64);
    expectExact(where(c, b, a), [5, 1, 7], DType.F64);
  });

  test('mismatched value dtypes → DTYPE_MISMATCH', () => {
    const c = Tensor.fromArray([true, false]);
    expectHoduError(() => where(c, Tensor.ones([2], DType.F32), Tensor.ones([2], DType.I32)), 'DTYPE_MISMATCH', /f32/, /i32/);
  });

  test('shapes that do not broadcast → SHAPE_MISMATCH', () => {
    const c = Tensor.fromArray([true, false, true]);
    expectHoduError(() => where(c, Tensor.ones([2]), 0), 'SHAPE_MISMATCH', /\[3\]/, /\[2\]/);
  });
});
