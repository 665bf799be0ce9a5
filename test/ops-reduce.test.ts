// Reductions (sum mean max min prod var std norm argmax argmin) against the float64 reference:
// dims as a number, an array, negative, omitted (all dims → shape []), keepdim true/false, on
// contiguous and strided inputs, for float and integer dtypes.
import { Tensor, DType, manualSeed } from '../lib';
import * as R from './helpers/reference';
import {
  ALL_LAYOUTS,
  Gen,
  LayoutName,
  expectClose,
  expectExact,
  expectHoduError,
  intGen,
  layoutApplies,
  layoutCase,
  randnGen,
  refOf,
  tol,
} from './helpers/assert';

beforeEach(() => manualSeed(777));

const SHAPE = [2, 3, 4];
const LAYOUTS = ALL_LAYOUTS.filter((l) => layoutApplies(l, SHAPE.length));

type Dims = number | number[] | undefined;
const DIMS: Dims[] = [undefined, 0, 1, 2, -1, -3, [0, 2], [-1, 0], [1, 2], [0, 1, 2], [2, -2]];
const dimsName = (d: Dims): string => (d === undefined ? 'all' : JSON.stringify(d));

type Op = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'var' | 'std' | 'norm' | 'argmax' | 'argmin';
const OPS: Op[] = ['sum', 'mean', 'max', 'min', 'prod', 'var', 'std', 'norm', 'argmax', 'argmin'];
const FLOAT_ONLY: Op[] = ['mean', 'var', 'std', 'norm'];
const isArg = (op: Op) => op === 'argmax' || op === 'argmin';

function run(op: Op, t: Tensor, dims: Dims, keepdim?: boolean): Tensor {
  if (keepdim === undefined) return dims === undefined ? t[op]() : t[op](dims);
  return t[op](dims, keepdim);
}

/** ±U(0.6, 1.4): keeps products of 24 values well inside the float range. */
function prodGen(dt: DType): Gen {
  return (shape) => {
    const u = R.Ref.from(Tensor.rand(shape, DType.F64).toArray() as R.Nested).flat();
    return Tensor.fromArray(u.map((x) => (x < 0.5 ? -1 : 1) * (0.6 + 0.8 * ((x * 2) % 1))), shape, dt);
  };
}

function genFor(op: Op, dt: DType): Gen {
  if (dt !== DType.F32 && dt !== DType.F64 && dt !== DType.F16 && dt !== DType.BF16)
    return op === 'prod' ? intGen(dt, -2, 3) : intGen(dt, -20, 21);
  return op === 'prod' ? prodGen(dt) : randnGen(dt, 0.5, 2);
}

function tolFor(op: Op, dt: DType): { rtol: number; atol: number } {
  if (isArg(op)) return { rtol: 0, atol: 0 };
  if (dt === DType.F32) return op === 'var' || op === 'std' ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 2e-5, atol: 1e-5 };
  return tol(dt);
}

function check(op: Op, dt: DType, layout: LayoutName, dims: Dims, keepdim: boolean | undefined, gen: Gen = genFor(op, dt)): void {
  const c = layoutCase(layout, SHAPE, gen);
  const out = run(op, c.t, dims, keepdim);
  const expected = R.reduce(c.r, dims, keepdim ?? false, R.rfn[op]);
  expectClose(out, expected, {
    ...tolFor(op, dt),
    dtype: isArg(op) ? DType.I64 : dt,
    label: `${op}(${dimsName(dims)}, keepdim=${keepdim}) ${dt} ${layout}`,
  });
}

describe('upstream conformance values: A = [[1,2,3],[4,5,6]]', () => {
  const A = () => Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
  const c = { dtype: DType.F32, rtol: 1e-6, atol: 1e-6 };
  test('sum() = 21 with shape [] (not [1] as upstream)', () => {
    const s = A().sum();
    expect(Array.from(s.shape)).toEqual([]);
    expectClose(s, 21, c);
    expect(s.item()).toBe(21);
  });
  test('sum(0) = [5,7,9], sum(1) = [6,15]', () => {
    expectClose(A().sum(0), [5, 7, 9], c);
    expectClose(A().sum(1), [6, 15], c);
  });
  test('mean() = 3.5', () => expectClose(A().mean(), 3.5, c));
  test('var() = 2.9166667, std() = 1.7078252 (population)', () => {
    expectClose(A().var(), 2.9166667, c);
    expectClose(A().std(), 1.7078252, c);
  });
  test('var(1) = [0.6666667, 0.6666667], std(1) = [0.8164966, 0.8164966]', () => {
    expectClose(A().var(1), [0.6666667, 0.6666667], c);
    expectClose(A().std(1), [0.8164966, 0.8164966], c);
  });
  test('norm() = 9.539392, norm(1) = [3.7416575, 8.774964]', () => {
    expectClose(A().norm(), 9.539392, c);
    expectClose(A().norm(1), [3.7416575, 8.774964], c);
  });
  test('prod() = 720, prod(1) = [6, 120]', () => {
    expectClose(A().prod(), 720, c);
    expectClose(A().prod(1), [6, 120], c);
  });
  test('max() = 6, min() = 1, max(0) = [4,5,6], min(1) = [1,4]', () => {
    expectClose(A().max(), 6, c);
    expectClose(A().min(), 1, c);
    expectClose(A().max(0), [4, 5, 6], c);
    expectClose(A().min(1), [1, 4], c);
  });
  test('argmax() = 5, argmin() = 0 (I64, shape [])', () => {
    expectExact(A().argmax(), 5, DType.I64);
    expectExact(A().argmin(), 0, DType.I64);
    expectExact(A().argmax(1), [2, 2], DType.I64);
    expectExact(A().argmin(0), [0, 0, 0], DType.I64);
  });
  test('keepdim: sum(1, true) = [[6],[15]], sum(undefined, true) has shape [1, 1]', () => {
    expectClose(A().sum(1, true), [[6], [15]], c);
    expectClose(A().sum(undefined, true), [[21]], c);
    expectClose(A().mean([0, 1], true), [[3.5]], c);
  });
});

describe('every dims / keepdim form, f32 contiguous', () => {
  const cases = OPS.flatMap((op) =>
    DIMS.flatMap((d) => [undefined, false, true].map((k) => [op, dimsName(d), String(k), d, k] as const)),
  );
  test.each(cases)('%s(dims=%s, keepdim=%s)', (op, _dn, _kn, dims, keepdim) => check(op, DType.F32, 'contiguous', dims, keepdim));
});

describe('strided inputs, f32', () => {
  const cases = OPS.flatMap((op) => LAYOUTS.filter((l) => l !== 'contiguous').map((l) => [op, l] as const));
  test.each(cases)('%s on %s input, several dims', (op, layout) => {
    for (const dims of [undefined, 0, -1, [0, 2], [1, 2]] as Dims[]) for (const k of [false, true]) check(op, DType.F32, layout, dims, k);
  });
});

describe('f64', () => {
  const cases = OPS.flatMap((op) => (['contiguous', 'transposed+sliced', 'broadcast-stride0', 'permuted'] as LayoutName[]).map((l) => [op, l] as const));
  test.each(cases)('%s on %s input', (op, layout) => {
    for (const dims of [undefined, 1, -1, [0, 2]] as Dims[]) for (const k of [false, true]) check(op, DType.F64, layout, dims, k);
  });
});

describe('integer dtypes', () => {
  const intOps = OPS.filter((o) => !FLOAT_ONLY.includes(o));
  const cases = intOps.flatMap((op) =>
    [DType.I32, DType.I64].flatMap((dt) => (['contiguous', 'transposed', 'sliced-step2', 'broadcast-stride0'] as LayoutName[]).map((l) => [op, dt, l] as const)),
  );
  test.each(cases)('%s %s on %s input', (op, dt, layout) => {
    for (const dims of [undefined, 0, -1, [0, 2]] as Dims[]) for (const k of [false, true]) check(op, dt, layout, dims, k);
  });

  test('u8 sum / max / min / argmax', () => {
    const x = Tensor.fromArray([[1, 200, 3], [40, 5, 6]], undefined, DType.U8);
    expectExact(x.sum(0), [41, 205, 9], DType.U8);
    expectExact(x.max(1), [200, 40], DType.U8);
    expectExact(x.min(), 1, DType.U8);
    expectExact(x.argmax(1), [1, 0], DType.I64);
  });

  test.each(['mean', 'var', 'std', 'norm'] as Op[])('%s of an integer tensor → DTYPE_MISMATCH', (op) => {
    expectHoduError(() => run(op, Tensor.ones([2, 3], DType.I32), undefined), 'DTYPE_MISMATCH', /i32/);
  });

  test('i64 sum beyond the i32 range', () => {
    const x = Tensor.fromArray([2 ** 31, 2 ** 31, 2 ** 33], undefined, DType.I64);
    expectExact(x.sum(), 2 ** 31 + 2 ** 31 + 2 ** 33, DType.I64);
  });
});

describe('f16 / bf16 (loose tolerance)', () => {
  const ops: Op[] = ['sum', 'mean', 'max', 'min', 'argmax'];
  const cases = ops.flatMap((op) => [DType.F16, DType.BF16].flatMap((dt) => (['contiguous', 'transposed', 'broadcast-stride0'] as LayoutName[]).map((l) => [op, dt, l] as const)));
  test.each(cases)('%s %s on %s input', (op, dt, layout) => {
    for (const dims of [undefined, 1, [0, 2]] as Dims[]) check(op, dt, layout, dims, false, randnGen(dt, 0, 1));
  });
});

describe('argmax / argmin details', () => {
  test('ties give the first occurrence', () => {
    const x = Tensor.fromArray([[1, 3, 3], [2, 2, 1], [0, 0, 0]]);
    expectExact(x.argmax(1), [1, 0, 0], DType.I64);
    expectExact(x.argmin(1), [0, 2, 0], DType.I64);
    expectExact(x.argmax(0), [1, 0, 0], DType.I64);
    expectExact(x.argmin(0), [2, 2, 2], DType.I64);
    expectExact(x.argmax(), 1, DType.I64);
    expectExact(x.argmin(), 6, DType.I64);
  });

  test('ties on a transposed input follow the logical order', () => {
    const x = Tensor.fromArray([[5, 1], [5, 7], [2, 7]]).t(); // [[5,5,2],[1,7,7]]
    expectExact(x.argmax(1), [0, 1], DType.I64);
    expectExact(x.argmin(1, true), [[2], [0]], DType.I64);
  });

  test('ties on i32 and with infinities', () => {
    expectExact(Tensor.fromArray([4, 9, 9, -1, 9], undefined, DType.I32).argmax(), 1, DType.I64);
    expectExact(Tensor.fromArray([Infinity, 1, Infinity]).argmax(), 0, DType.I64);
    expectExact(Tensor.fromArray([0, -Infinity, -Infinity]).argmin(), 1, DType.I64);
  });

  test('over several dims: the flat row-major index within them', () => {
    const x = Tensor.fromArray([[[1, 9], [3, 4]], [[8, 2], [0, 5]]]); // [2,2,2]
    expectExact(x.argmax([1, 2]), [1, 0], DType.I64);
    expectExact(x.argmin([0, 2]), [0, 2], DType.I64);
    expectExact(x.argmax([1, 2], true), [[[1]], [[0]]], DType.I64);
  });

  test('toArray gives plain numbers for the I64 result', () => {
    const v = Tensor.fromArray([[3, 1, 2]]).argmax(1).toArray() as number[];
    expect(v).toEqual([0]);
    expect(typeof v[0]).toBe('number');
  });
});

describe('edge cases', () => {
  test('reduction of a shape [] tensor is the value itself', () => {
    const s = Tensor.full([], 4);
    expectClose(s.sum(), 4, { dtype: DType.F32 });
    expectClose(s.max(), 4, { dtype: DType.F32 });
    expectClose(s.mean(), 4, { dtype: DType.F32 });
  });

  test('sum / prod over an empty dim give the identity', () => {
    const e = Tensor.zeros([0, 3]);
    expectClose(e.sum(0), [0, 0, 0], { dtype: DType.F32 });
    expectClose(e.prod(0), [1, 1, 1], { dtype: DType.F32 });
    expectClose(e.sum(), 0, { dtype: DType.F32 });
    expectClose(e.sum(1), new R.Ref([], [0]), { dtype: DType.F32 });
    expectClose(Tensor.zeros([0], DType.I32).sum(), 0, { dtype: DType.I32 });
  });

  test('NaN propagates through sum, mean, prod, max and min', () => {
    const x = Tensor.fromArray([[1, NaN, 3], [4, 5, 6]]);
    expectClose(x.sum(1), [NaN, 15], { dtype: DType.F32 });
    expectClose(x.mean(1), [NaN, 5], { dtype: DType.F32 });
    expectClose(x.prod(1), [NaN, 120], { dtype: DType.F32 });
    expectClose(x.max(1), [NaN, 6], { dtype: DType.F32 });
    expectClose(x.min(1), [NaN, 4], { dtype: DType.F32 });
  });

  test('infinities in sum, max and min', () => {
    const x = Tensor.fromArray([[1, Infinity], [-Infinity, -Infinity], [Infinity, -Infinity]]);
    expectClose(x.sum(1), [Infinity, -Infinity, NaN], { dtype: DType.F32 });
    expectClose(x.max(1), [Infinity, -Infinity, Infinity], { dtype: DType.F32 });
    expectClose(x.min(1), [1, -Infinity, -Infinity], { dtype: DType.F32 });
  });

  test('f32 sum of 100000 values is accurate (accumulated in double or pairwise)', () => {
    const x = Tensor.full([100000], 0.1);
    expectClose(x.sum(), 100000 * Math.fround(0.1), { dtype: DType.F32, rtol: 1e-5, atol: 0 });
    expectClose(x.mean(), Math.fround(0.1), { dtype: DType.F32, rtol: 1e-5, atol: 0 });
  });

  test('f32 sums over long rows and over 200000 values are accurate', () => {
    const y = Tensor.full([4, 50000], 0.1);
    expectClose(y.sum(), 200000 * Math.fround(0.1), { dtype: DType.F32, rtol: 1e-5, atol: 0 });
    expectClose(y.sum(0), R.Ref.full([50000], 4 * Math.fround(0.1)), { dtype: DType.F32, rtol: 1e-6, atol: 0 });
    expectClose(y.sum(1), [50000, 50000, 50000, 50000].map((v) => v * Math.fround(0.1)), { dtype: DType.F32, rtol: 1e-5, atol: 0 });
  });

  test('f32 var / std are accurate for data with a large mean', () => {
    const base = Tensor.randn([1000], DType.F64);
    const r = refOf(base).map((v) => 10000 + v);
    const x = Tensor.fromArray(r.flat().map((v) => Math.fround(v)), undefined, DType.F32);
    const rx = refOf(x);
    expectClose(x.var(), R.rfn.var(rx.flat()), { dtype: DType.F32, rtol: 1e-3, atol: 0 });
    expectClose(x.std(), R.rfn.std(rx.flat()), { dtype: DType.F32, rtol: 1e-3, atol: 0 });
  });

  test('var / std of a single element along a dim are 0', () => {
    const x = Tensor.fromArray([[1], [5]]);
    expectClose(x.var(1), [0, 0], { dtype: DType.F32 });
    expectClose(x.std(1), [0, 0], { dtype: DType.F32 });
  });

  test('reductions do not modify their input', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    x.sum(0);
    x.t().max(1);
    x.var();
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  test('the result owns its memory', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    const s = x.sum(0);
    (s.toTypedArray() as Float32Array)[0] = 100;
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(s.toArray()).toEqual([100, 6]);
  });

  test('dim out of range → INVALID_ARGUMENT naming the dim', () => {
    const x = Tensor.ones([2, 3]);
    expectHoduError(() => x.sum(2), 'INVALID_ARGUMENT', /\b2\b/);
    expectHoduError(() => x.mean(-3), 'INVALID_ARGUMENT', /-3/);
    expectHoduError(() => x.max([0, 5]), 'INVALID_ARGUMENT', /5/);
    expectHoduError(() => x.argmax(7), 'INVALID_ARGUMENT', /7/);
  });

  test('a repeated dim → INVALID_ARGUMENT', () => {
    expectHoduError(() => Tensor.ones([2, 3]).sum([1, -1]), 'INVALID_ARGUMENT');
  });

  test('max / argmax over an empty dim → INVALID_ARGUMENT', () => {
    expectHoduError(() => Tensor.zeros([0, 3]).max(0), 'INVALID_ARGUMENT', /0/);
    expectHoduError(() => Tensor.zeros([3, 0]).argmax(1), 'INVALID_ARGUMENT');
  });

  test('reductions of a BOOL tensor → DTYPE_MISMATCH for float-only reductions', () => {
    expectHoduError(() => Tensor.fromArray([true, false]).mean(), 'DTYPE_MISMATCH', /bool/);
  });
});
