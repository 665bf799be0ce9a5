// Creation (fromArray, zeros/ones/full/*Like, arange, randn/rand, manualSeed), properties and data
// access (toTypedArray, toArray, item).
import { Tensor, DType, manualSeed } from '../lib';
import * as R from './helpers/reference';
import { expectClose, expectExact, expectHoduError, typedArrayKind } from './helpers/assert';

const ALL_DTYPES = [
  DType.BOOL, DType.U8, DType.I8, DType.I16, DType.I32, DType.I64, DType.U16, DType.U32, DType.U64,
  DType.F16, DType.BF16, DType.F32, DType.F64,
];

describe('fromArray', () => {
  test('nested numbers → f32 with the nested shape', () => {
    const t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    expect(Array.from(t.shape)).toEqual([2, 3]);
    expect(t.dtype).toBe(DType.F32);
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  test('3-D nesting and f32 rounding of the values', () => {
    const t = Tensor.fromArray([[[0.1], [0.2]], [[0.3], [-1e-3]]]);
    expect(Array.from(t.shape)).toEqual([2, 2, 1]);
    expect(t.toArray()).toEqual([[[Math.fround(0.1)], [Math.fround(0.2)]], [[Math.fround(0.3)], [Math.fround(-1e-3)]]]);
  });

  test('booleans → BOOL', () => {
    const t = Tensor.fromArray([[true, false], [false, true]]);
    expect(t.dtype).toBe(DType.BOOL);
    expect(t.toArray()).toEqual([[true, false], [false, true]]);
  });

  test('a bare number → shape []', () => {
    const t = Tensor.fromArray(2.5);
    expect(Array.from(t.shape)).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.item()).toBe(2.5);
  });

  test('an empty array → shape [0]', () => {
    const t = Tensor.fromArray([]);
    expect(Array.from(t.shape)).toEqual([0]);
    expect(t.size).toBe(0);
    expect(t.toArray()).toEqual([]);
  });

  test('explicit dtype', () => {
    expectExact(Tensor.fromArray([1, 2, 3], undefined, DType.F64), [1, 2, 3], DType.F64);
    expectExact(Tensor.fromArray([[1, -2]], undefined, DType.I32), [[1, -2]], DType.I32);
    expectExact(Tensor.fromArray([0, 1, 2], undefined, DType.BOOL), [false, true, true], DType.BOOL);
    expectExact(Tensor.fromArray([true, false], undefined, DType.F32), [1, 0], DType.F32);
    expect(Tensor.fromArray([0.1], undefined, DType.F64).toArray()).toEqual([0.1]);
  });

  test('explicit shape reshapes flat data', () => {
    expectExact(Tensor.fromArray([1, 2, 3, 4, 5, 6], [3, 2]), [[1, 2], [3, 4], [5, 6]], DType.F32);
    expectExact(Tensor.fromArray([7], []), 7, DType.F32);
    expectExact(Tensor.fromArray(new Float64Array([1, 2, 3, 4]), [2, 1, 2]), [[[1, 2]], [[3, 4]]], DType.F64);
  });

  test.each([
    ['Float32Array', new Float32Array([1.5, -2]), DType.F32],
    ['Float64Array', new Float64Array([1.5, -2]), DType.F64],
    ['Int8Array', new Int8Array([1, -2]), DType.I8],
    ['Int16Array', new Int16Array([1, -2]), DType.I16],
    ['Int32Array', new Int32Array([1, -2]), DType.I32],
    ['Uint8Array', new Uint8Array([1, 2]), DType.U8],
    ['Uint16Array', new Uint16Array([1, 2]), DType.U16],
    ['Uint32Array', new Uint32Array([1, 2]), DType.U32],
    ['BigInt64Array', new BigInt64Array([1n, -2n]), DType.I64],
    ['BigUint64Array', new BigUint64Array([1n, 2n]), DType.U64],
  ] as const)('%s → its natural dtype', (_name, arr, dt) => {
    const t = Tensor.fromArray(arr as unknown as Float32Array);
    expect(t.dtype).toBe(dt);
    expect(Array.from(t.shape)).toEqual([2]);
    expect(t.toArray()).toEqual(Array.from(arr as ArrayLike<number | bigint>, (v) => Number(v)));
  });

  test('a typed array with an explicit dtype is converted', () => {
    expectExact(Tensor.fromArray(new Float64Array([1.75, -2.25]), undefined, DType.F32), [1.75, -2.25], DType.F32);
    expectExact(Tensor.fromArray(new Int32Array([3, 4]), [2, 1], DType.F64), [[3], [4]], DType.F64);
    expectExact(Tensor.fromArray(new Float32Array([0.5, 1024]), undefined, DType.F16), [0.5, 1024], DType.F16);
  });

  test('the tensor does not alias a JS array given to it', () => {
    const src = [1, 2, 3];
    const t = Tensor.fromArray(src);
    src[0] = 100;
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  test('I64 from large numbers and bigints', () => {
    const t = Tensor.fromArray([2 ** 40, -(2 ** 40)], undefined, DType.I64);
    expect(t.toArray()).toEqual([2 ** 40, -(2 ** 40)]);
    const b = Tensor.fromArray(new BigInt64Array([9007199254740991n, -5n]));
    expect(b.toArray()).toEqual([9007199254740991, -5]);
  });

  test('ragged nested array → INVALID_ARGUMENT naming where', () => {
    expectHoduError(() => Tensor.fromArray([[1, 2], [3]]), 'INVALID_ARGUMENT', /ragged/, /\[1\]/, /length 1/);
    expectHoduError(() => Tensor.fromArray([[1, 2], 3] as unknown as number[][]), 'INVALID_ARGUMENT', /\[1\]/);
    expectHoduError(() => Tensor.fromArray([[[1], [2]], [[3], [4, 5]]]), 'INVALID_ARGUMENT', /\[1\]\[1\]/);
  });

  test('a non-number element → INVALID_ARGUMENT naming it', () => {
    expectHoduError(() => Tensor.fromArray([1, 'a'] as unknown as number[]), 'INVALID_ARGUMENT', /'a'/);
  });

  test('count mismatch with an explicit shape → SHAPE_MISMATCH naming the shape', () => {
    expectHoduError(() => Tensor.fromArray([1, 2, 3, 4, 5], [2, 3]), 'SHAPE_MISMATCH', /\[2, 3\]/, /5/);
    expectHoduError(() => Tensor.fromArray(new Float32Array(4), [3]), 'SHAPE_MISMATCH', /\[3\]/);
  });
});

describe('zeros / ones / full / *Like', () => {
  test.each(ALL_DTYPES)('zeros, ones and full of %s', (dt) => {
    const z = Tensor.zeros([2, 3], dt);
    const o = Tensor.ones([2, 3], dt);
    const f = Tensor.full([3, 1], dt === DType.BOOL ? 1 : 7, dt);
    expectExact(z, R.Ref.full([2, 3], 0), dt);
    expectExact(o, R.Ref.full([2, 3], 1), dt);
    expectExact(f, R.Ref.full([3, 1], dt === DType.BOOL ? 1 : 7), dt);
  });

  test('the default dtype is f32', () => {
    expect(Tensor.zeros([2]).dtype).toBe(DType.F32);
    expect(Tensor.ones([2]).dtype).toBe(DType.F32);
    expect(Tensor.full([2], 3).dtype).toBe(DType.F32);
  });

  test('shape [] and zero-size shapes', () => {
    expectExact(Tensor.zeros([]), 0, DType.F32);
    expectExact(Tensor.full([], -4.5), -4.5, DType.F32);
    const e = Tensor.ones([2, 0, 3]);
    expect(Array.from(e.shape)).toEqual([2, 0, 3]);
    expect(e.size).toBe(0);
  });

  test('full with fractional, negative, NaN, infinite and boolean values', () => {
    expectExact(Tensor.full([2], 0.1, DType.F64), [0.1, 0.1], DType.F64);
    expectExact(Tensor.full([2], -3, DType.I32), [-3, -3], DType.I32);
    expectClose(Tensor.full([2], NaN), [NaN, NaN], { dtype: DType.F32 });
    expectExact(Tensor.full([1], -Infinity, DType.F16), [-Infinity], DType.F16);
    expectExact(Tensor.full([2], true, DType.BOOL), [true, true], DType.BOOL);
    expectExact(Tensor.full([2], false, DType.BOOL), [false, false], DType.BOOL);
    expectExact(Tensor.full([2], 2.5, DType.BF16), [2.5, 2.5], DType.BF16);
  });

  test('zerosLike / onesLike / fullLike keep shape and dtype; dtype can be overridden', () => {
    const x = Tensor.fromArray([[1, 2, 3]], undefined, DType.I32);
    expectExact(Tensor.zerosLike(x), [[0, 0, 0]], DType.I32);
    expectExact(Tensor.onesLike(x), [[1, 1, 1]], DType.I32);
    expectExact(Tensor.fullLike(x, 4), [[4, 4, 4]], DType.I32);
    expectExact(Tensor.zerosLike(x, DType.F64), [[0, 0, 0]], DType.F64);
    expectExact(Tensor.onesLike(x, DType.BOOL), [[true, true, true]], DType.BOOL);
    expectExact(Tensor.fullLike(x, 0.5, DType.F32), [[0.5, 0.5, 0.5]], DType.F32);
  });

  test('*Like of a strided tensor takes its logical shape', () => {
    const x = Tensor.zeros([2, 5]).t();
    expect(Array.from(Tensor.onesLike(x).shape)).toEqual([5, 2]);
    expect(Tensor.onesLike(x).isContiguous).toBe(true);
  });

  test('bad shapes → INVALID_ARGUMENT naming the shape', () => {
    expectHoduError(() => Tensor.zeros([2, -1]), 'INVALID_ARGUMENT', /\[2, -1\]/);
    expectHoduError(() => Tensor.ones([2.5]), 'INVALID_ARGUMENT', /2\.5/);
    expectHoduError(() => Tensor.full([NaN], 1), 'INVALID_ARGUMENT', /NaN/);
    expectHoduError(() => Tensor.zeros([2], 'f128' as DType), 'INVALID_ARGUMENT', /'f128'/);
  });
});

describe('arange', () => {
  test('single-argument form arange(n) = arange(0, n)', () => {
    expectExact(Tensor.arange(5), [0, 1, 2, 3, 4], DType.F32);
    expect(Array.from(Tensor.arange(1).shape)).toEqual([1]);
  });

  test('start, end', () => {
    expectExact(Tensor.arange(2, 6), [2, 3, 4, 5], DType.F32);
    expectExact(Tensor.arange(-3, 0), [-3, -2, -1], DType.F32);
  });

  test('fractional step', () => {
    expectExact(Tensor.arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], DType.F32);
    const t = Tensor.arange(1, 2, 0.1, DType.F64);
    expect(Array.from(t.shape)).toEqual([10]);
    expectClose(t, Array.from({ length: 10 }, (_, i) => 1 + 0.1 * i), { dtype: DType.F64, rtol: 1e-15, atol: 1e-15 });
    expectClose(Tensor.arange(0, 1.01, 0.5), [0, 0.5, 1], { dtype: DType.F32 });
    expect(Array.from(Tensor.arange(0, 1, 0.3).shape)).toEqual([4]);
  });

  test('negative step', () => {
    expectExact(Tensor.arange(5, 0, -1), [5, 4, 3, 2, 1], DType.F32);
    expectExact(Tensor.arange(1, -1, -0.5), [1, 0.5, 0, -0.5], DType.F32);
  });

  test.each([DType.I32, DType.I64, DType.F64, DType.F16, DType.U8])('dtype %s', (dt) => {
    expectExact(Tensor.arange(0, 10, 3, dt), [0, 3, 6, 9], dt);
  });

  test('empty ranges', () => {
    expect(Array.from(Tensor.arange(0, 0).shape)).toEqual([0]);
    expect(Array.from(Tensor.arange(3, 1).shape)).toEqual([0]);
    expect(Array.from(Tensor.arange(0).shape)).toEqual([0]);
  });

  test('errors: step 0, NaN, infinite → INVALID_ARGUMENT', () => {
    expectHoduError(() => Tensor.arange(0, 5, 0), 'INVALID_ARGUMENT', /step/);
    expectHoduError(() => Tensor.arange(NaN), 'INVALID_ARGUMENT', /NaN/);
    expectHoduError(() => Tensor.arange(0, Infinity), 'INVALID_ARGUMENT', /Infinity/);
  });
});

// ------------------------------------------------------------------------------------ random

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const a = R.Ref.from(t.toArray() as R.Nested).flat();
  let s = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of a) {
    s += v;
    mn = Math.min(mn, v);
    mx = Math.max(mx, v);
  }
  const mean = s / a.length;
  let q = 0;
  for (const v of a) q += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(q / a.length), min: mn, max: mx };
}

describe('randn / rand', () => {
  const N = 100_000;

  test.each([DType.F32, DType.F64])('randn %s: mean 0, std 1 on 100k samples', (dt) => {
    manualSeed(1);
    const t = Tensor.randn([N], dt);
    expect(t.dtype).toBe(dt);
    expect(Array.from(t.shape)).toEqual([N]);
    const s = stats(t);
    expect(Math.abs(s.mean)).toBeLessThan(0.02);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.02);
    expect(Number.isFinite(s.min) && Number.isFinite(s.max)).toBe(true);
  });

  test('randn with mean and std', () => {
    manualSeed(2);
    const s = stats(Tensor.randn([400, 250], DType.F32, 3, 2));
    expect(Math.abs(s.mean - 3)).toBeLessThan(0.04);
    expect(Math.abs(s.std - 2)).toBeLessThan(0.04);
  });

  test('randn tails look normal (share within 1 and 2 std)', () => {
    manualSeed(3);
    const a = R.Ref.from(Tensor.randn([N], DType.F64).toArray() as R.Nested).flat();
    const in1 = a.filter((v) => Math.abs(v) < 1).length / N;
    const in2 = a.filter((v) => Math.abs(v) < 2).length / N;
    expect(Math.abs(in1 - 0.6827)).toBeLessThan(0.01);
    expect(Math.abs(in2 - 0.9545)).toBeLessThan(0.01);
  });

  test.each([DType.F32, DType.F64])('rand %s: uniform on [0, 1)', (dt) => {
    manualSeed(4);
    const t = Tensor.rand([N], dt);
    expect(t.dtype).toBe(dt);
    const s = stats(t);
    expect(s.min).toBeGreaterThanOrEqual(0);
    expect(s.max).toBeLessThan(1);
    expect(Math.abs(s.mean - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(s.std - 1 / Math.sqrt(12))).toBeLessThan(0.02);
  });

  test.each([DType.F32, DType.F64])('rand %s with low, high stays in [low, high)', (dt) => {
    manualSeed(5);
    const s = stats(Tensor.rand([N], dt, -3, 5));
    expect(s.min).toBeGreaterThanOrEqual(-3);
    expect(s.max).toBeLessThan(5);
    expect(Math.abs(s.mean - 1)).toBeLessThan(0.02 * 8);
    expect(Math.abs(s.std - 8 / Math.sqrt(12))).toBeLessThan(0.02 * 8);
  });

  test('rand in f32 never rounds up to high, even for a narrow range', () => {
    manualSeed(6);
    const s = stats(Tensor.rand([N], DType.F32, 1, 1 + 2 ** -20));
    expect(s.max).toBeLessThan(1 + 2 ** -20);
    expect(s.min).toBeGreaterThanOrEqual(1);
  });

  test.each([DType.F16, DType.BF16])('randn / rand in %s', (dt) => {
    manualSeed(7);
    const n = Tensor.randn([20000], dt);
    expect(n.dtype).toBe(dt);
    const s = stats(n);
    expect(Math.abs(s.mean)).toBeLessThan(0.05);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.05);
    const u = stats(Tensor.rand([20000], dt, 0, 1));
    expect(u.min).toBeGreaterThanOrEqual(0);
    expect(u.max).toBeLessThanOrEqual(1);
    expect(Math.abs(u.mean - 0.5)).toBeLessThan(0.05);
  });

  test.each([DType.F16, DType.BF16])('rand in %s stays below high after rounding', (dt) => {
    manualSeed(8);
    const u = stats(Tensor.rand([20000], dt, 0, 1));
    expect(u.max).toBeLessThan(1);
    const v = stats(Tensor.rand([20000], dt, 2, 3));
    expect(v.max).toBeLessThan(3);
  });

  test('shapes: multi-dim, [] and zero-size', () => {
    expect(Array.from(Tensor.randn([2, 3, 4]).shape)).toEqual([2, 3, 4]);
    expect(Array.from(Tensor.rand([]).shape)).toEqual([]);
    expect(Tensor.randn([0, 5]).size).toBe(0);
  });

  test('randn / rand of an integer dtype → DTYPE_MISMATCH naming it', () => {
    expectHoduError(() => Tensor.randn([2], DType.I32), 'DTYPE_MISMATCH', /i32/);
    expectHoduError(() => Tensor.rand([2], DType.BOOL), 'DTYPE_MISMATCH', /bool/);
  });

  test('NaN parameters → INVALID_ARGUMENT', () => {
    expectHoduError(() => Tensor.randn([2], DType.F32, NaN, 1), 'INVALID_ARGUMENT', /NaN/);
    expectHoduError(() => Tensor.rand([2], DType.F32, 0, NaN), 'INVALID_ARGUMENT', /NaN/);
  });
});

describe('manualSeed', () => {
  test('the same seed gives the same values', () => {
    manualSeed(123);
    const a = Tensor.randn([1000]).toArray();
    const b = Tensor.rand([10, 10], DType.F64).toArray();
    manualSeed(123);
    expect(Tensor.randn([1000]).toArray()).toEqual(a);
    expect(Tensor.rand([10, 10], DType.F64).toArray()).toEqual(b);
  });

  test('different seeds and successive draws differ', () => {
    manualSeed(1);
    const a = Tensor.randn([100]).toArray();
    const a2 = Tensor.randn([100]).toArray();
    manualSeed(2);
    const b = Tensor.randn([100]).toArray();
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(a2);
  });

  test('bigint seeds and large seeds', () => {
    manualSeed(2n ** 63n + 5n);
    const a = Tensor.rand([50]).toArray();
    manualSeed(2n ** 63n + 5n);
    expect(Tensor.rand([50]).toArray()).toEqual(a);
    manualSeed(0);
    expect(Tensor.rand([50]).toArray()).not.toEqual(a);
  });

  test('a non-integer seed → INVALID_ARGUMENT', () => {
    expectHoduError(() => manualSeed(1.5), 'INVALID_ARGUMENT', /1\.5/);
    expectHoduError(() => manualSeed(NaN), 'INVALID_ARGUMENT', /NaN/);
  });
});

// ------------------------------------------------------------------------------------ data access

describe('properties', () => {
  test('shape, dtype, ndim, size, device, requiresGrad', () => {
    const t = Tensor.zeros([2, 3, 4], DType.F64);
    expect(Array.from(t.shape)).toEqual([2, 3, 4]);
    expect(t.dtype).toBe(DType.F64);
    expect(t.dtype).toBe('f64');
    expect(t.ndim).toBe(3);
    expect(t.size).toBe(24);
    expect(t.device.toString()).toBe('cpu');
    expect(t.requiresGrad).toBe(false);
  });

  test('DType values are the lowercase names', () => {
    expect(Object.values(DType).sort()).toEqual(['bf16', 'bool', 'f16', 'f32', 'f64', 'i16', 'i32', 'i64', 'i8', 'u16', 'u32', 'u64', 'u8']);
  });
});

describe('toTypedArray', () => {
  test.each([
    [DType.F32, '[object Float32Array]'],
    [DType.F64, '[object Float64Array]'],
    [DType.I8, '[object Int8Array]'],
    [DType.I16, '[object Int16Array]'],
    [DType.I32, '[object Int32Array]'],
    [DType.I64, '[object BigInt64Array]'],
    [DType.U8, '[object Uint8Array]'],
    [DType.U16, '[object Uint16Array]'],
    [DType.U32, '[object Uint32Array]'],
    [DType.U64, '[object BigUint64Array]'],
    [DType.BOOL, '[object Uint8Array]'],
    [DType.F16, '[object Uint16Array]'],
    [DType.BF16, '[object Uint16Array]'],
  ])('%s → %s', (dt, kind) => {
    const a = Tensor.ones([2, 2], dt).toTypedArray();
    expect(ArrayBuffer.isView(a)).toBe(true);
    expect(typedArrayKind(a)).toBe(kind);
    expect(a.length).toBe(4);
  });

  test('f16 / bf16 give the raw bits', () => {
    expect(Array.from(Tensor.fromArray([1, -2], undefined, DType.F16).toTypedArray() as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(Array.from(Tensor.fromArray([1, -2], undefined, DType.BF16).toTypedArray() as Uint16Array)).toEqual([0x3f80, 0xc000]);
  });

  test('of a contiguous tensor: a view over its memory (writes show in the tensor)', () => {
    const t = Tensor.fromArray([[1, 2], [3, 4]]);
    const a = t.toTypedArray() as Float32Array;
    a[3] = 40;
    expect(t.toArray()).toEqual([[1, 2], [3, 40]]);
    const b = t.toTypedArray() as Float32Array;
    expect(b.buffer).toBe(a.buffer);
  });

  test('of a contiguous view with an offset: starts at the view', () => {
    const t = Tensor.arange(0, 6).reshape([3, 2]);
    const v = t.narrow(0, 1, 2);
    expect(Array.from(v.toTypedArray() as Float32Array)).toEqual([2, 3, 4, 5]);
    (v.toTypedArray() as Float32Array)[0] = -2;
    expect(t.toArray()).toEqual([[0, 1], [-2, 3], [4, 5]]);
  });

  test('of a strided tensor: the values in logical order', () => {
    const t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    expect(Array.from(t.t().toTypedArray() as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(t.slice(1, 0, 3, 2).toTypedArray() as Float32Array)).toEqual([1, 3, 4, 6]);
    expect(Array.from(Tensor.fromArray([7, 8]).broadcastTo([2, 2]).toTypedArray() as Float32Array)).toEqual([7, 8, 7, 8]);
  });

  test('I64 gives a BigInt64Array of the values', () => {
    const a = Tensor.fromArray([5, -6], undefined, DType.I64).toTypedArray() as BigInt64Array;
    expect(Array.from(a)).toEqual([5n, -6n]);
  });
});

describe('toArray', () => {
  test('BOOL gives booleans', () => {
    const v = Tensor.fromArray([1, 0, 3], undefined, DType.BOOL).toArray() as boolean[];
    expect(v).toEqual([true, false, true]);
    expect(typeof v[0]).toBe('boolean');
  });

  test.each([DType.I64, DType.U64])('%s values come back as numbers', (dt) => {
    const v = Tensor.fromArray([[1, 2 ** 40]], undefined, dt).toArray() as number[][];
    expect(v).toEqual([[1, 2 ** 40]]);
    expect(typeof v[0][0]).toBe('number');
  });

  test('shape [] gives a bare value', () => {
    expect(Tensor.full([], 3).toArray()).toBe(3);
    expect(Tensor.full([], true, DType.BOOL).toArray()).toBe(true);
  });

  test('zero-size tensors give empty arrays (toArray, toTypedArray, toString)', () => {
    expect(Tensor.zeros([0]).toArray()).toEqual([]);
    expect(Tensor.zeros([2, 0]).toArray()).toEqual([[], []]);
    expect(Tensor.zeros([0, 3]).toArray()).toEqual([]);
    expect(Tensor.zeros([3, 0, 4]).toTypedArray().length).toBe(0);
    expect(Tensor.zeros([4, 4]).narrow(1, 1, 0).toArray()).toEqual([[], [], [], []]);
    expect(typeof Tensor.zeros([2, 0]).toString()).toBe('string');
  });

  test.each(ALL_DTYPES)('round trip of small values for %s', (dt) => {
    const vals = dt === DType.BOOL ? [true, false, true] : [0, 1, 100];
    expect(Tensor.fromArray(vals, undefined, dt).toArray()).toEqual(vals);
  });

  test('f16 / bf16 decode to numbers, including specials', () => {
    expect(Tensor.fromArray([0.5, -65504, Infinity], undefined, DType.F16).toArray()).toEqual([0.5, -65504, Infinity]);
    const b = Tensor.fromArray([NaN, 3], undefined, DType.BF16).toArray() as number[];
    expect(Number.isNaN(b[0])).toBe(true);
    expect(b[1]).toBe(3);
  });

  test('of strided views', () => {
    const t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    expect(t.t().toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(t.slice(1, 1).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(t.narrow(0, 1, 1).unsqueeze(0).toArray()).toEqual([[[4, 5, 6]]]);
  });
});

describe('item', () => {
  test('one-element tensors of any rank', () => {
    expect(Tensor.full([], 2.5).item()).toBe(2.5);
    expect(Tensor.fromArray([[7]]).item()).toBe(7);
    expect(Tensor.fromArray([[[-1]]], undefined, DType.I64).item()).toBe(-1);
    expect(Tensor.fromArray([3], undefined, DType.F64).item()).toBe(3);
  });

  test('f32 item is the stored (rounded) value', () => {
    expect(Tensor.full([], 0.1).item()).toBe(Math.fround(0.1));
  });

  test('a BOOL item is a number (1 / 0)', () => {
    expect(Tensor.full([1], true, DType.BOOL).item()).toBe(1);
    expect(Tensor.full([], false, DType.BOOL).item()).toBe(0);
  });

  test('a one-element view', () => {
    const t = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(t.t().narrow(0, 1, 1).narrow(1, 0, 1).item()).toBe(2);
  });

  test('more or fewer than one element → INVALID_ARGUMENT naming the count', () => {
    expectHoduError(() => Tensor.zeros([2, 3]).item(), 'INVALID_ARGUMENT', /6/, /\[2, 3\]/);
    expectHoduError(() => Tensor.zeros([0]).item(), 'INVALID_ARGUMENT', /0/);
  });
});
